import { describe, expect, it } from 'vitest';
import {
  divergingIndex,
  LUT_CENTER,
  LUT_LAST,
  LUT_SIZE,
  lut,
  NONFINITE_INDEX,
  packRgba,
  sequentialIndex,
  unpackRgba,
} from './colormap';

const rgb = (table: Uint32Array, i: number) => unpackRgba(table[i]!).slice(0, 3);

describe('diverging LUTs', () => {
  it('have 256 entries, opaque, the last one black for non-finite values', () => {
    for (const name of ['RdBu', 'bwr'] as const) {
      const table = lut(name);
      expect(table.length).toBe(LUT_SIZE);
      expect(LUT_SIZE).toBe(256);
      for (let i = 0; i < LUT_SIZE; i++) expect(unpackRgba(table[i]!)[3]).toBe(255);
      expect(rgb(table, NONFINITE_INDEX)).toEqual([0, 0, 0]);
    }
  });

  it('map zero to pure white', () => {
    expect(divergingIndex(0, 0.01)).toBe(LUT_CENTER);
    expect(divergingIndex(-0, 5)).toBe(LUT_CENTER);
    expect(rgb(lut('RdBu'), LUT_CENTER)).toEqual([255, 255, 255]);
    expect(rgb(lut('bwr'), LUT_CENTER)).toEqual([255, 255, 255]);
  });

  it('reach the ends at ±a and clamp beyond, symmetrically', () => {
    const a = 0.01;
    expect(divergingIndex(-a, a)).toBe(0);
    expect(divergingIndex(a, a)).toBe(LUT_LAST);
    expect(divergingIndex(-3 * a, a)).toBe(0);
    expect(divergingIndex(3 * a, a)).toBe(LUT_LAST);
    expect(divergingIndex(a / 2, a) - LUT_CENTER).toBe(LUT_CENTER - divergingIndex(-a / 2, a));
    for (const v of [1e-5, 0.0013, 0.004, 0.0077, 0.0099])
      expect(divergingIndex(v, a) + divergingIndex(-v, a)).toBe(2 * LUT_CENTER);
  });

  it('send NaN and ±Infinity to the non-finite entry', () => {
    expect(divergingIndex(Number.NaN, 1)).toBe(NONFINITE_INDEX);
    expect(divergingIndex(Number.POSITIVE_INFINITY, 1)).toBe(NONFINITE_INDEX);
    expect(divergingIndex(Number.NEGATIVE_INFINITY, 1)).toBe(NONFINITE_INDEX);
  });

  it('are blue for negative and red for positive values (See RNN bwr convention)', () => {
    for (const name of ['RdBu', 'bwr'] as const) {
      const [r0, , b0] = rgb(lut(name), 0);
      const [r1, , b1] = rgb(lut(name), LUT_LAST);
      expect(b0).toBeGreaterThan(r0!);
      expect(r1).toBeGreaterThan(b1!);
    }
  });

  it('bwr is exactly mirrored: entry i is entry 254 - i with red and blue swapped', () => {
    const table = lut('bwr');
    expect(rgb(table, 0)).toEqual([0, 0, 255]);
    expect(rgb(table, LUT_LAST)).toEqual([255, 0, 0]);
    for (let i = 0; i <= LUT_LAST; i++) {
      const [r, g, b] = rgb(table, i);
      expect(rgb(table, LUT_LAST - i)).toEqual([b, g, r]);
    }
  });

  it('RdBu has ends of the same lightness (a balanced diverging map)', () => {
    const table = lut('RdBu');
    const luma = (i: number) => {
      const [r, g, b] = rgb(table, i);
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    for (const i of [0, 40, 90, 120]) expect(Math.abs(luma(i) - luma(LUT_LAST - i))).toBeLessThan(25);
    // lightness rises towards the white centre from both sides
    expect(luma(0)).toBeLessThan(luma(60));
    expect(luma(60)).toBeLessThan(luma(LUT_CENTER));
    expect(luma(LUT_LAST)).toBeLessThan(luma(LUT_LAST - 60));
  });
});

describe('sequential LUTs and packing', () => {
  it('map lo, hi and out-of-range values to the ends, -Infinity to the bottom', () => {
    expect(sequentialIndex(-3, -3, 1)).toBe(0);
    expect(sequentialIndex(1, -3, 1)).toBe(LUT_LAST);
    expect(sequentialIndex(-1, -3, 1)).toBe(LUT_CENTER);
    expect(sequentialIndex(-10, -3, 1)).toBe(0);
    expect(sequentialIndex(Number.NEGATIVE_INFINITY, -3, 1)).toBe(0);
    expect(sequentialIndex(Number.NaN, -3, 1)).toBe(NONFINITE_INDEX);
    expect(sequentialIndex(Number.POSITIVE_INFINITY, -3, 1)).toBe(NONFINITE_INDEX);
  });

  it('viridis runs from dark purple to yellow', () => {
    expect(rgb(lut('viridis'), 0)).toEqual([68, 1, 84]);
    expect(rgb(lut('viridis'), LUT_LAST)).toEqual([253, 231, 37]);
  });

  it('packs RGBA the way a Uint32Array view over ImageData reads it', () => {
    const packed = new Uint32Array([packRgba(10, 20, 30, 255)]);
    expect([...new Uint8Array(packed.buffer)]).toEqual([10, 20, 30, 255]);
    expect(unpackRgba(packed[0]!)).toEqual([10, 20, 30, 255]);
  });
});
