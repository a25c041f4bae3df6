// The pure parts of the figures (the drawing itself is checked in a browser, test/e2e.test.ts).
import { describe, expect, it } from 'vitest';
import type { SnapshotInfo } from '../api';
import { pngName } from '../png';
import { parseState } from '../state';
import type { Tensor } from '../tensor';
import { type Compared, comparedCubes, comparedLabel, sampleList } from './common';
import { bandPairs, percentileColumns } from './distribution';
import { channelValues } from './features0d';
import { channelSeries, channelWindow, DEFAULT_CHANNELS } from './features1d';
import { resolveNorm } from './features2d';
import { logRange } from './flowView';
import { entryLink, runDescription } from './gallery';

function compared(iteration: number, values: number[]): Compared {
  const tensor: Tensor = {
    data: new Float32Array(values),
    shape: [1, values.length, 1],
    dims: ['sample', 'timestep', 'channel'],
  };
  return { iteration, info: { iteration } as SnapshotInfo, tensor, label: `iteration ${iteration}` };
}

describe('compared iterations', () => {
  it('are raw, or differences against the first', () => {
    const items = [compared(20, [1, 2]), compared(200, [4, 0])];
    expect([...comparedCubes(items, false).cubes[1]!.data]).toEqual([4, 0]);
    const diff = comparedCubes(items, true);
    expect([...diff.cubes[0]!.data]).toEqual([1, 2]);
    expect([...diff.cubes[1]!.data]).toEqual([3, -2]);
    expect(diff.diffNote).toBe('');
    expect(comparedCubes([compared(20, [1, 2]), compared(200, [4])], true).diffNote).toMatch(/another shape/);
    expect(comparedLabel(200, 20, 1, true)).toBe('iteration 200 − 20');
    expect(comparedLabel(20, 20, 0, true)).toBe('iteration 20');
  });

  it('share one symmetric norm: the largest |value| over all of them, or the manual one', () => {
    const { cubes } = comparedCubes([compared(20, [0.001, -0.004]), compared(200, [0.002, 0.003])], false);
    expect(resolveNorm('auto', cubes)).toEqual({ a: 0.004000000189989805, auto: true });
    expect(resolveNorm(0.01, cubes)).toEqual({ a: 0.01, auto: false });
    expect(resolveNorm('auto', comparedCubes([compared(0, [0, 0])], false).cubes).a).toBeGreaterThan(0);
  });

  it('show all samples or one, clamped', () => {
    expect(sampleList(3, 'all')).toEqual([0, 1, 2]);
    expect(sampleList(3, 7)).toEqual([2]);
  });
});

describe('1D and 0D series', () => {
  // 2 samples × 3 timesteps × 2 channels: value = 100·s + 10·t + c
  const data = Float32Array.from({ length: 12 }, (_, i) => {
    const s = Math.floor(i / 6);
    const t = Math.floor((i % 6) / 2);
    return 100 * s + 10 * t + (i % 2);
  });
  const cube = {
    data,
    samples: 2,
    rows: 3,
    cols: 2,
    axes: ['sample', 'timestep', 'channel'] as [string, string, string],
    timeRows: true,
  };

  it('take one channel of one sample over the timesteps', () => {
    expect([...channelSeries(cube, 1, 1, 3)]).toEqual([101, 111, 121]);
    expect([...channelSeries(cube, 0, 0, 2)]).toEqual([0, 10]);
  });

  it('show the first 16 channels unless a range is given', () => {
    expect(channelWindow(null, 256)).toEqual([0, DEFAULT_CHANNELS]);
    expect(channelWindow(null, 6)).toEqual([0, 6]);
    expect(channelWindow('100-131', 256)).toEqual([100, 132]);
  });

  it('take one channel of every sample for the 0D scatter', () => {
    expect([...channelValues(new Float32Array([1, 2, 3, 4, 5, 6]), 3, 2, 1)]).toEqual([2, 4, 6]);
  });
});

describe('flow and distribution helpers', () => {
  it('span whole decades on the log axis, at most 16 below the top', () => {
    expect(logRange([new Float32Array([0.002, 0.5, 0, Number.NaN])])).toEqual({
      lo: 1e-3,
      hi: 1,
      splits: [1e-3, 1e-2, 1e-1, 1],
    });
    const r = logRange([new Float32Array([1e-40, 3])]);
    expect([r.lo, r.hi]).toEqual([1e-15, 10]);
    expect(r.splits.length).toBeLessThanOrEqual(9);
    expect(logRange([new Float32Array([0])]).hi).toBe(1);
  });

  it('turn the iteration-major percentile matrix into one column per percentile', () => {
    const cols = percentileColumns({
      iterations: [20, 40],
      edges: [],
      counts: [],
      percentiles: { p: [0, 50, 100], values: [-1, 0, 1, -2, null, 2] },
    });
    expect(cols.map((c) => [...c])).toEqual([
      [-1, -2],
      [0, Number.NaN],
      [1, 2],
    ]);
  });

  it('pair percentiles into nested bands around the median', () => {
    expect(bandPairs(9)).toEqual([
      [9, 1],
      [8, 2],
      [7, 3],
      [6, 4],
    ]);
  });
});

describe('gallery and download names', () => {
  it('finds a run description in the record or its metadata', () => {
    const run = {
      id: 'x',
      name: 'ex1-lstm6',
      startedAt: 0,
      status: 'finished',
      snapshots: 0,
      lastIteration: null,
      backend: '',
      tfjsVersion: '',
      host: '',
    } as const;
    expect(runDescription({ ...run })).toBe('');
    expect(runDescription({ ...run, meta: { description: 'LSTM, 6 units' } })).toBe('LSTM, 6 units');
    expect(runDescription({ ...run, description: 'top', meta: { description: 'meta' } })).toBe('top');
  });

  it('makes safe PNG file names', () => {
    expect(pngName(['gradscope', 'ex1 lstm6', 'lstm_1', 'output-grad', null, '2d', '20_200'])).toBe(
      'gradscope-ex1_lstm6-lstm_1-output-grad-2d-20_200.png',
    );
    expect(pngName([])).toBe('gradscope.png');
  });
});

describe('gallery entries', () => {
  it('link to the exact view they describe', () => {
    const run = { id: 'r1', name: 'ex1-lstm6', meta: {} } as unknown as Parameters<typeof entryLink>[0];
    const link = entryLink(run, {
      id: 'EX3',
      title: 't',
      lookFor: 'l',
      view: {
        view: '2d',
        layer: 'lstm_1',
        kind: 'output-grad',
        iterations: [20, 200, 400],
        rows: 4,
        norm: 0.01,
      },
    });
    const state = parseState(link);
    expect(state).toMatchObject({
      page: 'run',
      run: 'ex1-lstm6',
      layer: 'lstm_1',
      kind: 'output-grad',
      view: '2d',
      iterations: [20, 200, 400],
      rows: 4,
      norm: 0.01,
      sample: 'all',
    });
  });
});
