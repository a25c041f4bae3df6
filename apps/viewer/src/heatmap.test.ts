import { describe, expect, it } from 'vitest';
import { divergingIndex, LUT_CENTER, LUT_LAST, NONFINITE_INDEX } from './colormap';
import {
  fillDiverging,
  fillSequential,
  type HeatmapSpec,
  heatmapSize,
  shownValues,
  splitHalves,
} from './heatmap';
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
  it('splits concatenated directions into equal blocks, the second flipped about the timesteps (See RNN)', () => {
    expect(splitHalves(512, ['forward', 'backward'], true)).toEqual([
      { name: 'forward', colFrom: 0, colTo: 256, reversed: false, timeReversed: false },
      { name: 'backward', colFrom: 256, colTo: 512, reversed: false, timeReversed: true },
    ]);
    // channel mirroring is a separate option
    expect(splitHalves(512, ['forward', 'backward'], true, true)[1]).toMatchObject({
      reversed: true,
      timeReversed: true,
    });
  });

  it('keeps one panel when off, without parts, or when the channels do not split evenly', () => {
    const whole = [{ name: '', colFrom: 0, colTo: 6, reversed: false, timeReversed: false }];
    expect(splitHalves(6, ['forward', 'backward'], false)).toEqual(whole);
    expect(splitHalves(6, undefined, true)).toEqual(whole);
    expect(splitHalves(7, ['forward', 'backward'], true)).toEqual([
      { name: '', colFrom: 0, colTo: 7, reversed: false, timeReversed: false },
    ]);
  });

  it('draws the backward half in the order it ran: its first column is the last input timestep', () => {
    const [fwd, bwd] = splitHalves(4, ['forward', 'backward'], true);
    const c = cube(); // 3 timesteps × 4 channels, value s·100 + t·10 + c (odd channels negative)
    const paint = (half: typeof fwd, rowCount = 3) => {
      const s = spec({
        colFrom: half!.colFrom,
        colTo: half!.colTo,
        reversed: half!.reversed,
        timeReversed: half!.timeReversed,
        rowCount,
      });
      const out = new Uint32Array(rowCount * 2);
      fillDiverging(out, { ...s, cube: c }, 100, identity);
      return [...out];
    };
    // forward: channels 0, 1 (rows) over timesteps 0, 1, 2 (columns)
    expect(paint(fwd)).toEqual([0, 10, 20, -1, -11, -21].map((v) => idx(v, 100)));
    // backward: channels 2, 3 over timesteps 2, 1, 0
    expect(paint(bwd)).toEqual([22, 12, 2, -23, -13, -3].map((v) => idx(v, 100)));
    // max_timesteps 2: the first two steps each direction ran
    expect(paint(bwd, 2)).toEqual([22, 12, -23, -13].map((v) => idx(v, 100)));
  });
});

describe('shownValues (what an automatic norm is computed over)', () => {
  it('takes only the shown samples and timesteps of each panel', () => {
    const c = cube();
    const whole = [{ colFrom: 0, colTo: 4, timeReversed: false }];
    expect(shownValues(c, [0, 1], whole, 3)).toBe(c.data);
    expect([...shownValues(c, [1], whole, 1)]).toEqual([100, -101, 102, -103]);
    const halves = splitHalves(4, ['forward', 'backward'], true);
    // sample 0, first timestep of each direction: forward t=0 (channels 0, 1), backward t=2 (channels 2, 3)
    expect([...shownValues(c, [0], halves, 1)]).toEqual([0, -1, 22, -23]);
  });
});
