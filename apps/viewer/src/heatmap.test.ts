import { describe, expect, it } from 'vitest';
import { divergingIndex, LUT_CENTER, LUT_LAST, NONFINITE_INDEX } from './colormap';
import { fillDiverging, fillSequential, type HeatmapSpec, heatmapSize, splitHalves } from './heatmap';
import type { Cube } from './tensor';

// A LUT whose entry i is i itself: painted pixels read back as LUT indices.
const identity = Uint32Array.from({ length: 256 }, (_, i) => i);

/** 2 samples × 3 timesteps × 4 channels, value = s·100 + t·10 + c, with a sign flip on odd channels. */
function cube(): Cube {
  const data = new Float32Array(2 * 3 * 4);
  for (let s = 0; s < 2; s++)
    for (let t = 0; t < 3; t++)
      for (let c = 0; c < 4; c++) data[(s * 3 + t) * 4 + c] = (c % 2 ? -1 : 1) * (s * 100 + t * 10 + c);
  return { data, samples: 2, rows: 3, cols: 4, axes: ['sample', 'timestep', 'channel'], timeRows: true };
}

function spec(over: Partial<HeatmapSpec> = {}): HeatmapSpec {
  return {
    cube: cube(),
    sample: 0,
    colFrom: 0,
    colTo: 4,
    reversed: false,
    rowCount: 3,
    rowsOnX: true,
    ...over,
  };
}

/** The expected LUT index of v under (-a, a): the reference function. */
const idx = (v: number, a: number) => divergingIndex(v, a);

describe('fillDiverging', () => {
  it('puts timesteps on x and channels on y (See RNN timesteps_xaxis)', () => {
    const s = spec({ sample: 1 });
    const { width, height } = heatmapSize(s);
    expect([width, height]).toEqual([3, 4]);
    const out = new Uint32Array(width * height);
    fillDiverging(out, s, 200, identity);
    for (let c = 0; c < 4; c++)
      for (let t = 0; t < 3; t++)
        expect(out[c * width + t]).toBe(idx((c % 2 ? -1 : 1) * (100 + t * 10 + c), 200));
  });

  it('puts channels on x when timesteps go on y', () => {
    const s = spec({ rowsOnX: false });
    const { width, height } = heatmapSize(s);
    expect([width, height]).toEqual([4, 3]);
    const out = new Uint32Array(width * height);
    fillDiverging(out, s, 30, identity);
    for (let t = 0; t < 3; t++)
      for (let c = 0; c < 4; c++) expect(out[t * width + c]).toBe(idx((c % 2 ? -1 : 1) * (t * 10 + c), 30));
  });

  it('agrees with divergingIndex on every value, halves included', () => {
    const values = Float32Array.from({ length: 2001 }, (_, i) => (i - 1000) / 400);
    const c: Cube = {
      data: values,
      samples: 1,
      rows: 1,
      cols: values.length,
      axes: ['s', 't', 'c'],
      timeRows: true,
    };
    const out = new Uint32Array(values.length);
    fillDiverging(
      out,
      { cube: c, sample: 0, colFrom: 0, colTo: values.length, reversed: false, rowCount: 1, rowsOnX: false },
      2,
      identity,
    );
    for (let i = 0; i < values.length; i++) expect(out[i]).toBe(divergingIndex(values[i]!, 2));
    expect(out[1000]).toBe(LUT_CENTER);
  });

  it('maps zero to the centre, ±a to the ends, clamps beyond and flags non-finite values', () => {
    const data = new Float32Array([0, 1, -1, 7, -7, Number.NaN, Number.POSITIVE_INFINITY, 0.5]);
    const c: Cube = {
      data,
      samples: 1,
      rows: 1,
      cols: 8,
      axes: ['sample', 'timestep', 'channel'],
      timeRows: true,
    };
    const out = new Uint32Array(8);
    fillDiverging(
      out,
      { cube: c, sample: 0, colFrom: 0, colTo: 8, reversed: false, rowCount: 1, rowsOnX: false },
      1,
      identity,
    );
    expect([...out]).toEqual([
      LUT_CENTER,
      LUT_LAST,
      0,
      LUT_LAST,
      0,
      NONFINITE_INDEX,
      NONFINITE_INDEX,
      idx(0.5, 1),
    ]);
  });

  it('draws a channel block in reverse (the mirrored half) and only the first rowCount timesteps', () => {
    const s = spec({ colFrom: 2, colTo: 4, reversed: true, rowCount: 2 });
    const { width, height } = heatmapSize(s);
    expect([width, height]).toEqual([2, 2]);
    const out = new Uint32Array(4);
    fillDiverging(out, s, 100, identity);
    // top row: channel 3, bottom row: channel 2
    expect([...out]).toEqual([idx(-3, 100), idx(-13, 100), idx(2, 100), idx(12, 100)]);
  });
});

describe('fillSequential', () => {
  it('maps a row-major matrix through the LUT', () => {
    const out = new Uint32Array(4);
    fillSequential(
      out,
      new Float32Array([-2, 0, Number.NEGATIVE_INFINITY, Number.NaN]),
      2,
      2,
      -2,
      0,
      identity,
    );
    expect([...out]).toEqual([0, LUT_LAST, 0, NONFINITE_INDEX]);
  });
});

describe('splitHalves (reflect_half)', () => {
  it('splits concatenated directions into equal blocks, the second mirrored', () => {
    expect(splitHalves(512, ['forward', 'backward'], true)).toEqual([
      { name: 'forward', colFrom: 0, colTo: 256, reversed: false },
      { name: 'backward', colFrom: 256, colTo: 512, reversed: true },
    ]);
  });

  it('keeps one panel when off, without parts, or when the channels do not split evenly', () => {
    const whole = [{ name: '', colFrom: 0, colTo: 6, reversed: false }];
    expect(splitHalves(6, ['forward', 'backward'], false)).toEqual(whole);
    expect(splitHalves(6, undefined, true)).toEqual(whole);
    expect(splitHalves(7, ['forward', 'backward'], true)).toEqual([
      { name: '', colFrom: 0, colTo: 7, reversed: false },
    ]);
  });

  it('meets at the boundary unit by unit: forward u-1 above backward u-1', () => {
    const [fwd, bwd] = splitHalves(8, ['forward', 'backward'], true);
    const c = cube();
    const four: Cube = {
      ...c,
      cols: 8,
      rows: 1,
      samples: 1,
      data: Float32Array.from({ length: 8 }, (_, i) => i + 1),
    };
    const paint = (h: typeof fwd) => {
      const out = new Uint32Array(4);
      fillDiverging(
        out,
        {
          cube: four,
          sample: 0,
          colFrom: h!.colFrom,
          colTo: h!.colTo,
          reversed: h!.reversed,
          rowCount: 1,
          rowsOnX: true,
        },
        8,
        identity,
      );
      return [...out];
    };
    // forward rows top→bottom: channels 0,1,2,3; backward rows top→bottom: channels 7,6,5,4
    expect(paint(fwd)).toEqual([1, 2, 3, 4].map((v) => idx(v, 8)));
    expect(paint(bwd)).toEqual([8, 7, 6, 5].map((v) => idx(v, 8)));
  });
});
