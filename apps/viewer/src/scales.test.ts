import { schemeDark2 } from 'd3-scale-chromatic';
import { describe, expect, it } from 'vitest';
import {
  decadeTicks,
  iterationColor,
  logRange,
  MAX_DECADES,
  nearestIndex,
  resolveNorm,
  sharedLogNorms,
  timestepSplits,
} from './scales';

describe('scales shared by the figures (not a view)', () => {
  it('puts several matrices on one log10 range: the finite logs of all of them, at most MAX_DECADES deep', () => {
    const a = Float32Array.of(1, 10, 100);
    const b = Float32Array.of(0.01, 0, Number.NaN);
    const { logs, lo, hi } = sharedLogNorms([a, b]);
    // log10 by hand: 0, 1, 2 and -2, -Infinity (0), NaN.
    expect(Array.from(logs[0]!)).toEqual([0, 1, 2]);
    expect(logs[1]![0]).toBeCloseTo(-2, 6);
    expect(logs[1]![1]).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(logs[1]![2])).toBe(true);
    // 0.01 as float32 is 0.0099999998: its log10 a hair below -2.
    expect(lo).toBeCloseTo(-2, 6);
    expect(hi).toBe(2);
    // A norm that vanished to 1e-40 does not stretch the range past 16 decades below the largest.
    const deep = sharedLogNorms([Float32Array.of(1e-38, 1)]);
    expect([deep.lo, deep.hi]).toEqual([-MAX_DECADES, 0]);
    // One value everywhere: a range one decade wide, never empty.
    const flat = sharedLogNorms([Float32Array.of(10, 10)]);
    expect([flat.lo, flat.hi]).toEqual([1, 2]);
  });

  it('ticks a colorbar at whole decades inside [lo, hi]', () => {
    expect(decadeTicks(-2.5, 1.2)).toEqual([-2, -1, 0, 1]);
    const many = decadeTicks(-16, 0);
    expect(many.length).toBeLessThanOrEqual(7);
    expect(many.every((v) => Number.isInteger(v) && v >= -16 && v <= 0)).toBe(true);
  });

  it('a log y range over whole decades of the positive finite values', () => {
    const r = logRange([Float32Array.of(0.03, 7, -1, Number.POSITIVE_INFINITY)]);
    // 0.03 → 10^-2 below, 7 → 10^1 above.
    expect(r).toEqual({ lo: 1e-2, hi: 10, splits: [1e-2, 1e-1, 1, 10] });
  });

  it('timestep ticks on whole timesteps, about one per 60 px', () => {
    const splits = timestepSplits(100, 600);
    expect(splits.every((v) => Number.isInteger(v) && v >= 0 && v < 100)).toBe(true);
    expect(splits.length).toBeGreaterThanOrEqual(2);
    expect(splits.length).toBeLessThanOrEqual(11);
  });

  it('the nearest recorded iteration (the first of two equally near), -1 for none', () => {
    expect(nearestIndex([0, 20, 40, 60], 33)).toBe(2);
    expect(nearestIndex([0, 20, 40, 60], 30)).toBe(1);
    expect(nearestIndex([0, 20, 40, 60], 1000)).toBe(3);
    expect(nearestIndex([], 5)).toBe(-1);
  });

  it('the symmetric norm: manual, max |v| or the 99th percentile of |v| of what is shown', () => {
    expect(resolveNorm(0.5, [Float32Array.of(3)])).toEqual({ a: 0.5, auto: false });
    expect(resolveNorm('auto', [Float32Array.of(-3, 1), Float32Array.of(2)])).toEqual({ a: 3, auto: true });
    // 1..100: the 99th percentile of |v| lies between 99 and 100.
    const values = Float32Array.from({ length: 100 }, (_, i) => -(i + 1));
    const p99 = resolveNorm('p99', [values]).a;
    expect(p99).toBeGreaterThanOrEqual(99);
    expect(p99).toBeLessThanOrEqual(100);
    // All zero: a tiny positive norm, so a scale still exists.
    expect(resolveNorm('auto', [new Float32Array(4)]).a).toBe(1e-12);
  });

  it('colours the i-th compared iteration from Dark2, cycling', () => {
    expect(iterationColor(0)).toBe(schemeDark2[0]);
    expect(iterationColor(schemeDark2.length + 1)).toBe(schemeDark2[1]);
  });
});
