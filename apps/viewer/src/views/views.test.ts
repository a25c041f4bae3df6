// The pure parts of the figures (the drawing itself is checked in a browser, test/e2e.test.ts).
import { encodeMatrix } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import type { SnapshotInfo } from '../api';
import { shownValues, splitHalves } from '../heatmap';
import { exportName, pngName } from '../png';
import { logRange, resolveNorm, timestepSplits } from '../scales';
import { parseState } from '../state';
import type { Tensor } from '../tensor';
import { type Compared, comparedCubes, comparedLabel, sampleList } from './common';
import { bandPairs, percentileColumns } from './distribution';
import { channelValues } from './features0d';
import { channelSeries, channelWindow, DEFAULT_CHANNELS, sampleColor } from './features1d';
import { heatmapOrder, panelCell } from './features2d';
import { orderParts } from './flowView';
import { entryLink, runDescription } from './gallery';
import { bucketRange, occupiedBuckets } from './histograms';
import { fillGates, groupWeights, histogram, parsePart } from './weights';

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
    const data = cubes.map((c) => c.data);
    expect(resolveNorm('auto', data)).toEqual({ a: 0.004000000189989805, auto: true });
    expect(resolveNorm(0.01, data)).toEqual({ a: 0.01, auto: false });
    expect(resolveNorm('auto', [new Float32Array(2)]).a).toBeGreaterThan(0);
  });

  it('auto norm is over what is shown: the chosen sample and the first maxT timesteps (issue 12, item 6)', () => {
    // 2 samples × 4 timesteps × 1 channel; sample 1 and the last timesteps are large
    const tensor: Tensor = {
      data: new Float32Array([0.001, 0.002, 0.5, 0.5, 9, 9, 9, 9]),
      shape: [2, 4, 1],
      dims: ['sample', 'timestep', 'channel'],
    };
    const cube = comparedCubes(
      [{ iteration: 0, info: { iteration: 0 } as SnapshotInfo, tensor, label: 'iteration 0' }],
      false,
    ).cubes[0]!;
    const whole = splitHalves(1, undefined, true);
    expect(resolveNorm('auto', [shownValues(cube, [0], whole, 2)]).a).toBeCloseTo(0.002, 6);
    expect(resolveNorm('auto', [shownValues(cube, [0, 1], whole, 4)]).a).toBe(9);
  });

  it('titles a bias by its one axis, a kernel by its two, samples added (item 10)', () => {
    expect(heatmapOrder({ rows: 1, axes: ['sample', 'row', 'unit'] }, true, 1)).toBe('Units');
    expect(heatmapOrder({ rows: 3, axes: ['sample', 'input', 'unit'] }, true, 1)).toBe('(Units vs. Inputs)');
    expect(heatmapOrder({ rows: 20, axes: ['sample', 'timestep', 'channel'] }, true, 16)).toBe(
      '((Channels vs. Timesteps) vs. Samples)',
    );
    expect(heatmapOrder({ rows: 20, axes: ['sample', 'timestep', 'channel'] }, false, 1)).toBe(
      '(Timesteps vs. Channels)',
    );
  });

  it('maps a hovered cell back to the cube, through the flips of reflect_half', () => {
    const cube = { rows: 10 } as never;
    const spec = { cube, colFrom: 4, colTo: 8, reversed: false, timeReversed: true, rowsOnX: true };
    expect(panelCell(spec, 0, 0)).toEqual({ row: 9, col: 4 });
    expect(panelCell({ ...spec, reversed: true }, 2, 0)).toEqual({ row: 7, col: 7 });
    expect(panelCell({ ...spec, timeReversed: false, rowsOnX: false }, 1, 3)).toEqual({ row: 3, col: 5 });
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
      count: 2,
      ids: [1, 2],
      iterations: [20, 40],
      edges: [],
      counts: encodeMatrix(new Uint32Array(0), [2, 0]),
      percentiles: {
        p: [0, 50, 100],
        values: encodeMatrix(Float32Array.of(-1, 0, 1, -2, Number.NaN, 2), [2, 3]),
      },
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
      endedAt: null,
      layers: [] as string[],
      meta: {},
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

describe('sample colours (issue 12, item 10)', () => {
  it('are distinct for 16 samples, Tableau 10 up to 10', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => sampleColor(i, 16));
    expect(new Set(sixteen).size).toBe(16);
    expect(sampleColor(3, 6)).toBe(sampleColor(3, 10));
  });
});

describe('flow figure (issue 12, item 7)', () => {
  it('orders directions as the layer does, forward first', () => {
    expect(orderParts(['backward', 'forward'], ['forward', 'backward'])).toEqual(['forward', 'backward']);
    expect(orderParts(['backward', 'forward'], null)).toEqual(['forward', 'backward']);
    expect(orderParts(['b', 'x', 'a'], ['a', 'b'])).toEqual(['a', 'b', 'x']);
  });

  it('puts timestep ticks on whole timesteps', () => {
    for (const T of [3, 7, 20, 37, 500]) {
      const splits = timestepSplits(T, 400);
      expect(splits.length).toBeGreaterThan(1);
      expect(splits.every((v) => Number.isInteger(v) && v >= 0 && v < T)).toBe(true);
    }
  });

  it('takes the 1% threshold into the log range, so its line is inside the plot', () => {
    const norms = Float32Array.from([0.5, 1, 2, 4]);
    const threshold = Float32Array.from([0.04]);
    const without = logRange([norms]);
    expect(without.lo).toBeGreaterThan(0.04);
    const withIt = logRange([norms, threshold]);
    expect(withIt.lo).toBeLessThanOrEqual(0.04);
  });
});

describe('exported file names (issue 12, item 10)', () => {
  it('name the part, so that every gate downloads under its own name', () => {
    const key = { layer: 'bidirectional_1', kind: 'weight', part: 'forward/kernel/f' };
    expect(exportName('ex9', key, [20, 200])).toBe(
      'gradscope-ex9-bidirectional_1-weight-forward_kernel_f-20_200.arrow',
    );
    expect(exportName('ex9', { ...key, part: 'forward/kernel/i' }, [20])).not.toBe(
      exportName('ex9', key, [20]),
    );
    expect(exportName('r', { layer: 'l', kind: 'output-grad', part: null }, [])).toBe(
      'gradscope-r-l-output-grad.arrow',
    );
  });
});

describe('histogram modes', () => {
  it('keep the buckets that hold values at any iteration', () => {
    // 2 iterations × 6 buckets
    const counts = new Float32Array([0, 0, 3, 1, 0, 0, 0, 2, 0, 0, 0, 0]);
    expect(occupiedBuckets(counts, 2, 6)).toEqual([1, 3]);
    expect(occupiedBuckets(new Float32Array(6), 1, 6)).toEqual([0, 5]);
  });

  it('name a bucket by its edges, open ends as infinities', () => {
    expect(bucketRange([null, -1, 0.5, null], 0)).toBe('[-∞, -1)');
    expect(bucketRange([null, -1, 0.5, null], 1)).toBe('[-1, 0.5)');
    expect(bucketRange([null, -1, 0.5, null], 2)).toBe('[0.5, +∞)');
  });
});

describe('weights page model', () => {
  it('reads part names as capture writes them', () => {
    expect(parsePart('backward/recurrent_kernel/f')).toEqual({
      direction: 'backward',
      weight: 'recurrent_kernel',
      gate: 'f',
    });
    expect(parsePart('bias/input/z')).toEqual({ direction: null, weight: 'bias/input', gate: 'z' });
    expect(parsePart('kernel')).toEqual({ direction: null, weight: 'kernel', gate: null });
    expect(parsePart('forward/bias')).toEqual({ direction: 'forward', weight: 'bias', gate: null });
  });

  it('groups by direction (forward first), weight and gate in the layer order', () => {
    const order = [
      'forward/kernel/i',
      'forward/kernel/f',
      'forward/bias/i',
      'forward/bias/f',
      'backward/kernel/i',
      'backward/kernel/f',
    ];
    const info = (part: string, shape: number[]) => ({ part, shape }) as SnapshotInfo;
    const items = [...order].reverse().map((p) => ({
      info: info(p, p.includes('bias') ? [2] : [3, 2]),
      data: new Float32Array(p.includes('bias') ? 2 : 6),
    }));
    const g = groupWeights(items, order);
    expect(g.map((d) => d.direction)).toEqual(['forward', 'backward']);
    expect(g[0]!.weights.map((w) => w.weight)).toEqual(['kernel', 'bias']);
    expect(g[0]!.weights[0]!.gates.map((x) => x.gate)).toEqual(['i', 'f']);
    expect(g[0]!.weights[1]!.gates[0]).toMatchObject({ rows: 1, cols: 2 });
    expect(g[1]!.weights[0]!.gates[0]).toMatchObject({ rows: 3, cols: 2 });
  });

  it('paints gates side by side on one norm, non-finite black', () => {
    const identity = Uint32Array.from({ length: 256 }, (_, i) => i);
    const gate = (v: number[]) => ({
      gate: 'i',
      info: {} as SnapshotInfo,
      data: new Float32Array(v),
      rows: 2,
      cols: 1,
    });
    const out = new Uint32Array(4);
    fillGates(out, [gate([1, -1]), gate([0, Number.NaN])], 1, identity);
    // row 0: gate 0 then gate 1; row 1 likewise
    expect([...out]).toEqual([254, 127, 0, 255]);
  });

  it('counts a histogram against a direct count, non-finite apart', () => {
    const data = new Float32Array([-1, -0.5, 0, 0.25, 0.999, 1, Number.NaN, Number.POSITIVE_INFINITY, 5]);
    const { counts, nonFinite } = histogram(data, -1, 1, 4);
    expect(nonFinite).toBe(2);
    // bins [-1,-0.5) [-0.5,0) [0,0.5) [0.5,1]; values beyond are clamped into the end bins
    expect([...counts]).toEqual([1, 1, 2, 3]);
  });
});
