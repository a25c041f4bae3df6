// The evidence's pure parts: the decay fit line placed from the diagnosis' slope, the series a verdict rests on,
// and the loss picking of training.ts (every loss by name, the baseline never a loss).
import { type RunDiagnosis, reachOf, theilSen } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import type { RunDetails, ScalarsResponse } from '../api';
import { viewContext } from '../context';
import { type DataCache, scalarPoints } from '../data';
import { RunFrame } from '../frame';
import type { Series } from '../resolve';
import { defaultState } from '../state';
import {
  baselineCurve,
  lossName,
  pickBaseline,
  pickLoss,
  pickLosses,
  type Scalar,
  scalarX,
} from '../training';
import { decayFitLine, evidenceSeries, lagOf, renderEvidence, significant } from './evidence';
import { renderTrainingStrip } from './trainingStrip';

describe('decayFitLine', () => {
  it('reproduces an exact exponential decay from its slope (forward: lag back from the last step)', () => {
    const T = 12;
    const norms = Float64Array.from({ length: T }, (_, t) => 3 * 10 ** (-0.25 * (T - 1 - t)));
    const d = reachOf({ kind: 'jacobian', part: null, norms })!.decadesPerStep!;
    expect(d).toBeCloseTo(0.25, 10);
    const line = decayFitLine(norms, null, d)!;
    for (let t = 0; t < T; t++) expect(line[t]! / norms[t]!).toBeCloseTo(1, 10);
  });

  it('a backward direction measures lag from step 0; the intercept is the median one, robust to an outlier', () => {
    const T = 9;
    const norms = Float64Array.from({ length: T }, (_, t) => 10 ** (-0.5 * t));
    norms[4] = 1e3; // an outlying timestep
    const lags = Array.from({ length: T }, (_, t) => lagOf(t, T, 'backward'));
    expect(lags).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const slope = -theilSen(lags, Array.from(norms, Math.log10))!;
    expect(slope).toBeCloseTo(0.5, 10);
    const line = decayFitLine(norms, 'backward', slope)!;
    expect(line[0]).toBeCloseTo(1, 10);
    expect(line[8]).toBeCloseTo(1e-4, 14);
  });

  it('no line without a slope or a positive norm', () => {
    expect(decayFitLine([1, 2], null, null)).toBeNull();
    expect(decayFitLine([0, 0], null, 0.1)).toBeNull();
  });
});

describe('evidenceSeries', () => {
  const reach = (kind: 'jacobian' | 'input-grad', part: string | null, farRatio: number) => ({
    kind,
    part,
    timesteps: 10,
    decadesPerStep: 0.1,
    reach1e2: 3,
    reach1e4: 5,
    shareBeyondHalf: 0.1,
    farRatio,
    growth: 0.1,
  });
  it('the jacobian the verdict rests on before input-grad; the direction reaching farthest', () => {
    const e = (r: ReturnType<typeof reach>[]) => ({ evidence: { reach: r } }) as never;
    expect(
      evidenceSeries(e([reach('input-grad', null, 0.9), reach('jacobian', null, 0.1)]), undefined),
    ).toMatchObject({ kind: 'jacobian', part: null });
    expect(
      evidenceSeries(e([reach('jacobian', 'forward', 0.1), reach('jacobian', 'backward', 0.3)]), undefined),
    ).toMatchObject({ kind: 'jacobian', part: 'backward' });
    // No reach in the diagnosis (nothing recorded yet): the recorded kind, else nothing.
    expect(evidenceSeries(e([]), { kinds: { 'input-grad': [null] } })).toMatchObject({ kind: 'input-grad' });
    expect(evidenceSeries(e([]), { kinds: { output: [null] } })).toBeNull();
  });
});

describe('losses', () => {
  const s = (name: string, values: number[]): Scalar => ({
    name,
    count: values.length,
    iterations: Float64Array.from(values, (_, i) => i * 10),
    values: Float64Array.from(values),
    times: Float64Array.from(values, (_, i) => 1_764_379_200_000 + i * 500),
  });
  it('the baseline is never a loss: a run with only probe/baseline has no loss to draw', () => {
    const only = [s('probe/baseline', [0.33])];
    expect(pickLoss(only)).toBeNull();
    expect(pickLosses(only)).toEqual([]);
    expect(pickBaseline(only)).toBe(0.33);
  });
  it('every loss in one order, each named by what it is', () => {
    const all = [s('val_loss', [3]), s('acc', [0.5]), s('probe/loss', [2]), s('loss', [1])];
    expect(pickLosses(all).map((l) => lossName(l.name))).toEqual([
      'training batch loss',
      'probe loss',
      'validation loss',
    ]);
    expect(pickLoss(all)!.name).toBe('loss');
    expect(pickBaseline(all)).toBeNull();
  });
  it('x by step, or by wall time in seconds; by step when the server sent no times', () => {
    const l = s('loss', [3, 2, 1]);
    expect(Array.from(scalarX(l, 'step'))).toEqual([0, 10, 20]);
    expect(Array.from(scalarX(l, 'time'))).toEqual([1_764_379_200, 1_764_379_200.5, 1_764_379_201]);
    expect(Array.from(scalarX({ ...l, times: new Float64Array(0) }, 'time'))).toEqual([0, 10, 20]);
  });

  it('the baseline line spans every curve', () => {
    const line = baselineCurve(
      [
        { label: 'a', color: '#000', iterations: Float64Array.of(5, 50), values: Float64Array.of(1, 1) },
        { label: 'b', color: '#000', iterations: Float64Array.of(0, 20), values: Float64Array.of(1, 1) },
      ],
      0.25,
    )!;
    expect(Array.from(line.iterations)).toEqual([0, 50]);
    expect(Array.from(line.values)).toEqual([0.25, 0.25]);
  });
  it('ratios in two significant digits, no exponent', () => {
    expect(significant(0.0099123)).toBe('0.0099');
    expect(significant(0.3456)).toBe('0.35');
    expect(significant(null)).toBe('—');
  });
});

describe('one loss read per render', () => {
  it('the evidence and the training strip ask the frame for the loss at its point count: one GET /scalars of a running run', async () => {
    const reads: number[] = [];
    const data = {
      api: {},
      flow: async () => {
        throw new Error('not read');
      },
      scalars: async (_run: unknown, n: number): Promise<ScalarsResponse> => {
        reads.push(n);
        return { series: [] };
      },
      histograms: async () => {
        throw new Error('not read');
      },
      partSnapshots: async () => [],
    } as unknown as DataCache;
    const run = { id: 'r', status: 'running', model: { layers: [] } } as unknown as RunDetails;
    // As the page renders (app.ts): the frame reads the loss at the figure's width, the views take its count
    // from the context, and the evidence sits in the verdict panel, narrower than the figure.
    const figureWidth = 1200;
    const lossPoints = scalarPoints(figureWidth);
    const frame = await RunFrame.of({
      data,
      record: run,
      run,
      snapshots: [],
      keys: [],
      diagnosisIteration: 40,
      lossPoints,
    });
    expect(frame.upTo).toBe(40);
    const series = {
      run,
      layers: [],
      key: { layer: 'gru', kind: 'input-grad', part: null },
      snapshots: [],
      iterations: [],
    } as unknown as Series;
    const ctx = viewContext(series, {
      state: defaultState(),
      width: figureWidth,
      lossPoints,
      data: frame,
      upTo: frame.upTo,
      // Stops each view once its data is read: what they asked for is what is tested.
      current: () => false,
      set: () => {},
    });
    const root = { querySelectorAll: () => [] } as unknown as HTMLElement;
    const diagnosis = { layers: [] } as unknown as RunDiagnosis;
    expect(await renderEvidence(root, { ...ctx, width: 700 }, diagnosis)).toBeNull();
    expect(await renderTrainingStrip(root, ctx)).toBeNull();
    // One read, the frame's, served to both views (a narrower evidence column once asked for 1000 points).
    expect(reads).toEqual([lossPoints]);
    expect(lossPoints).not.toBe(scalarPoints(Math.floor((700 - 32) / 3)));
  });
});
