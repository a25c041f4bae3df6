import { describe, expect, it } from 'vitest';
import type { LayerInfo, RunDetails, RunRecord, SnapshotInfo } from './api';
import { stepIteration } from './iterations';
import { pickRun, pickSeries, resolveSeries, usableView } from './resolve';
import { defaultState, formatState, parseState, type ViewState } from './state';

const record = (id: string, name: string, startedAt: number): RunRecord => ({
  id,
  name,
  startedAt,
  status: 'finished',
  snapshots: 0,
  lastIteration: null,
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'test',
  endedAt: null,
  layers: [],
  meta: {},
});

const runs = [record('r1', 'old', 1), record('r2', 'new', 2)];
const details = {
  ...runs[1]!,
  model: { name: 'm', className: 'Sequential', layers: [] },
  options: {},
} as never as RunDetails;

const lstm: LayerInfo = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  kinds: { 'output-grad': [null], weight: ['kernel/i', 'kernel/f'] },
  parts: [null, 'kernel/i', 'kernel/f'],
  firstIteration: 0,
  lastIteration: 40,
  iterationCount: 3,
  snapshots: 7,
};
const last: LayerInfo = {
  layer: 'lstm_2',
  layerClass: 'LSTM',
  kinds: { 'output-grad': [null] },
  parts: [null],
  firstIteration: 0,
  lastIteration: 0,
  iterationCount: 1,
  snapshots: 1,
};

function snap(
  iteration: number,
  part: string | null,
  dims: string[],
  kind: SnapshotInfo['kind'] = 'output-grad',
) {
  return {
    id: iteration * 10 + (part ? part.length : 0),
    iteration,
    layer: 'lstm_1',
    kind,
    part,
    dims,
    shape: dims.map(() => 2),
  } as SnapshotInfo;
}
const seq = ['sample', 'timestep', 'channel'];
const grads = [40, 0, 20].map((it) => snap(it, null, seq));

function state(hash: string): ViewState {
  return parseState(hash);
}

describe('pickRun', () => {
  it('finds a run by id or name, else the newest; a named run that is not there is missing', () => {
    expect(pickRun('r1', runs).run?.name).toBe('old');
    expect(pickRun('old', runs).run?.id).toBe('r1');
    expect(pickRun(null, runs).run?.id).toBe('r2');
    expect(pickRun('nope', runs)).toEqual({ run: null, missing: true });
    expect(pickRun(null, [])).toEqual({ run: null, missing: false });
  });
});

describe('pickSeries', () => {
  it('keeps the wanted layer, kind and part when the layer has them, else the first that exists', () => {
    expect(pickSeries(state('#/run?layer=lstm_1&kind=weight&part=kernel/f'), [last, lstm])?.key).toEqual({
      layer: 'lstm_1',
      kind: 'weight',
      part: 'kernel/f',
    });
    expect(pickSeries(state('#/run?layer=lstm_1&kind=weight&part=bias'), [lstm])?.key.part).toBe('kernel/i');
    expect(pickSeries(state('#/run?layer=gone'), [last, lstm])?.key.layer).toBe('lstm_2');
    expect(pickSeries(state('#/run'), [])).toBeNull();
  });
});

describe('resolveSeries', () => {
  const resolve = (hash: string, snapshots = grads, layers = [lstm]) => {
    const s = state(hash);
    return resolveSeries(s, runs[1]!, details, layers, pickSeries(s, layers)!, snapshots);
  };

  it('sorts the series and picks the default iterations without writing them into the URL', () => {
    const { series, fixes, notices } = resolve('#/run?run=new&layer=lstm_1');
    expect(series.available).toEqual([0, 20, 40]);
    expect(series.iterations).toEqual([0, 20, 40]);
    expect(series.hasTime).toBe(true);
    expect(fixes).toEqual({});
    expect(notices).toEqual([]);
  });

  it('replaces an iteration that was not recorded, fixes the URL and says so (issue 12, item 8)', () => {
    const { series, fixes, notices } = resolve('#/run?run=new&layer=lstm_1&it=0,30');
    expect(series.iterations).toEqual([0]);
    expect(fixes).toEqual({ iterations: [0] });
    expect(notices).toEqual(['iteration 30 was not recorded: showing 0']);
    const all = resolve('#/run?run=new&layer=lstm_1&it=5,7');
    expect(all.series.iterations).toEqual([0, 20, 40]);
    expect(all.fixes.iterations).toEqual([0, 20, 40]);
    expect(all.notices[0]).toBe('iterations 5, 7 were not recorded: showing 0, 20, 40');
    // the fixed state formats to a URL naming only recorded iterations
    const fixed = formatState({ ...state('#/run?run=new&layer=lstm_1&it=5,7'), ...all.fixes });
    expect(parseState(fixed).iterations).toEqual([0, 20, 40]);
  });

  it('names the run and layer in the URL instead of guesses', () => {
    const { fixes } = resolve('#/run?run=r2');
    expect(fixes).toEqual({ run: 'new', layer: 'lstm_1' });
  });

  it('falls back from a flow view on a series without timesteps (a weight) and says why (item 5)', () => {
    const weights = [0, 20].map((it) => snap(it, 'kernel/i', ['input', 'unit'], 'weight'));
    const { series, fixes, notices } = resolve('#/run?run=new&layer=lstm_1&kind=weight&view=flow', weights);
    expect(series.hasTime).toBe(false);
    expect(fixes.view).toBe('2d');
    expect(notices.join()).toContain('has no timestep axis');
    expect(fixes.part).toBe('kernel/i');
  });

  it('keeps the weights page for a weight kind, without a part in the URL, and leaves it for other kinds', () => {
    const weights = [0, 20].map((it) => snap(it, 'kernel/i', ['input', 'unit'], 'weight'));
    const w = resolve('#/run?run=new&layer=lstm_1&kind=weight&view=weights', weights);
    expect(w.fixes).toEqual({});
    expect(w.series.weightKind).toBe(true);
    const o = resolve('#/run?run=new&layer=lstm_1&view=weights');
    expect(o.fixes.view).toBe('2d');
  });

  it('moves the last compared iteration to the newest one when following, and records that', () => {
    const { series, fixes } = resolve('#/run?run=new&layer=lstm_1&it=0,20&follow=1');
    expect(series.iterations).toEqual([0, 40]);
    expect(fixes.iterations).toEqual([0, 40]);
  });

  it('0D series draw only the 0D view; series with timesteps never do', () => {
    expect(usableView('2d', { zeroD: true, hasTime: false, weightKind: false })).toBe('0d');
    expect(usableView('0d', { zeroD: false, hasTime: true, weightKind: false })).toBe('2d');
    expect(usableView('flow', { zeroD: false, hasTime: false, weightKind: true })).toBe('2d');
    expect(usableView('dist', { zeroD: true, hasTime: false, weightKind: false })).toBe('dist');
  });

  it('leaves a default state untouched', () => {
    expect(defaultState().iterations).toEqual([]);
  });
});

describe('arrow-key stepping', () => {
  const every20 = [0, 20, 40, 60];
  it('moves the last compared iteration to the next or previous recorded one', () => {
    expect(stepIteration([20], every20, 1)).toEqual([40]);
    expect(stepIteration([20], every20, -1)).toEqual([0]);
    expect(stepIteration([0, 20], every20, 1)).toEqual([0, 40]);
    // not below or onto the one before it
    expect(stepIteration([0, 20], every20, -1)).toBeNull();
    expect(stepIteration([60], every20, 1)).toBeNull();
    expect(stepIteration([], every20, 1)).toBeNull();
  });
});
