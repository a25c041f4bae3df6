// The compare page's data resolution (compareData.ts) on runs built by hand: which runs, which layer and kind,
// which groups, and what the URL is told; every expectation worked out here.
import type { LayerOutcome, RunOutcomeJson } from '@gradscope/format';
import { encodeMatrix } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import type { FlowResponse, LayerInfo, RunDetails, RunRecord, ScalarsResponse } from './api';
import { assembleCompare, matchSeries, pickKind, pickRecords } from './compareData';
import { DEFAULT_COMPARE } from './compareState';
import { runColor } from './training';

const CELLS = ['LSTM', 'GRU', 'SimpleRNN'] as const;

function record(i: number, o: { name?: string; lr?: number; group?: string | null } = {}): RunRecord {
  return {
    id: `id-${i}`,
    name: o.name ?? `run-${i}`,
    startedAt: 1000 + i,
    endedAt: 2000,
    status: 'finished',
    backend: 'cpu',
    tfjsVersion: '4',
    host: 'h',
    snapshots: 3,
    lastIteration: 200,
    layers: [],
    meta: {},
    group: o.group ?? null,
    params: o.lr === undefined ? {} : { lr: o.lr },
  };
}

function details(r: RunRecord, cell: string): RunDetails {
  const name = cell === 'SimpleRNN' ? 'simple_rnn' : cell.toLowerCase();
  return {
    ...r,
    model: {
      name: 'm',
      className: 'Sequential',
      layers: [
        {
          index: 0,
          name,
          className: cell,
          units: 4,
          returnSequences: true,
          outputShape: [null, 5, 4],
          captured: true,
        },
        { index: 1, name: 'dense', className: 'Dense', outputShape: [null, 1], captured: false },
      ],
      inputShape: [[null, 5, 1]],
      outputShape: [[null, 1]],
      losses: ['meanSquaredError'],
    },
    options: { mode: 'probe', capture: ['jacobian'], layers: [name] },
  };
}

function layerInfo(d: RunDetails, kinds: string[]): LayerInfo[] {
  const name = d.model.layers[0]!.name;
  return [
    {
      layer: name,
      layerClass: d.model.layers[0]!.className,
      kinds: Object.fromEntries(kinds.map((k) => [k, [null]])),
      parts: [null],
      firstIteration: 0,
      lastIteration: 200,
      iterationCount: 3,
      snapshots: 3 * kinds.length,
    },
  ];
}

function scalars(baseline: number | null): ScalarsResponse {
  const s = (name: string, its: number[], vs: number[]) => ({
    name,
    count: its.length,
    iterations: encodeMatrix(Float64Array.from(its)),
    values: encodeMatrix(Float64Array.from(vs)),
    times: encodeMatrix(Float64Array.from(its)),
  });
  return {
    series: [
      s('loss', [0, 100, 200], [0.3, 0.2, 0.1]),
      ...(baseline === null ? [] : [s('probe/baseline', [0], [baseline])]),
    ],
  };
}

function flow(its: number[]): FlowResponse {
  return {
    count: its.length,
    ids: its.map((_, i) => i + 1),
    iterations: its,
    timesteps: 5,
    norms: encodeMatrix(new Float32Array(its.length * 5).fill(1), [its.length, 5]),
    horizon: its.map(() => 0),
    t0Ratio: its.map(() => 1),
  };
}

function outcome(r: RunRecord, verdict: LayerOutcome['verdict'], layer: string): RunOutcomeJson {
  return {
    ...r,
    verdicts: [
      {
        layer,
        layerClass: 'X',
        verdict,
        causes: [],
        iteration: 200,
        lossRatio: 0.1,
        reachKind: 'jacobian',
        reach: 4,
        farRatio: 0.5,
        timesteps: 5,
      },
    ],
  };
}

describe('pickRecords', () => {
  it('finds runs by name or id in the URL order; says which are missing; asks for two only without groups', () => {
    const all = [record(0), record(1), record(2, { name: 'run-1' })];
    // "run-1" names the newest of the two runs called so (id-2).
    const got = pickRecords({ runs: ['run-1', 'id-0', 'nope', 'id-0'], by: null }, all);
    expect(got.records.map((r) => r.id)).toEqual(['id-2', 'id-0']);
    expect(got.notices).toEqual(['no run "nope" on this server: left out']);
    expect(pickRecords({ runs: ['id-0'], by: null }, all).notices).toEqual([
      'compare needs 2 to 8 runs: add one below',
    ]);
    expect(pickRecords({ runs: ['id-0'], by: 'lr' }, all).notices).toEqual([]);
  });
});

describe('pickKind', () => {
  const layer = (kinds: string[]) => layerInfo(details(record(0), 'GRU'), kinds)[0]!;
  it('without a kind asked for: the jacobian when any layer has it, else input-grad (what the verdict rests on)', () => {
    expect(pickKind(null, [layer(['output-grad', 'jacobian']), layer(['output-grad'])])).toBe('jacobian');
    expect(pickKind(null, [layer(['output-grad', 'input-grad'])])).toBe('input-grad');
    expect(pickKind(null, [layer(['output-grad']), layer(['output', 'output-grad'])])).toBe('output-grad');
  });
  it('a kind asked for is kept when any layer has it, else the one most layers have', () => {
    expect(pickKind('output-grad', [layer(['output-grad', 'jacobian'])])).toBe('output-grad');
    expect(pickKind('input-grad', [layer(['output', 'jacobian']), layer(['jacobian'])])).toBe('jacobian');
  });
});

describe('matchSeries and assembleCompare', () => {
  // Six runs: cells LSTM, GRU, SimpleRNN twice; lr 0.01 for the first three, 0.001 for the others but the last,
  // which has no lr; the SimpleRNNs record no jacobian.
  const all = Array.from({ length: 6 }, (_, i) =>
    record(i, i === 5 ? {} : { lr: i < 3 ? 0.01 : 0.001, group: `g${i % 2}` }),
  );
  const det = all.map((r, i) => details(r, CELLS[i % 3]!));
  const layers = det.map((d, i) =>
    layerInfo(d, i % 3 === 2 ? ['output-grad', 'input-grad'] : ['output-grad', 'jacobian']),
  );

  it('matches each run layer by role (names differ) and asks each for the jacobian it has', () => {
    const m = matchSeries({ layer: null, kind: null }, det, layers);
    expect(m.match.names).toEqual(['lstm', 'gru', 'simple_rnn', 'lstm', 'gru', 'simple_rnn']);
    expect(m.kind).toBe('jacobian');
    expect(m.flowKeys.map((k) => k?.layer ?? null)).toEqual(['lstm', 'gru', null, 'lstm', 'gru', null]);
    expect(m.notices).toEqual([]);
    const asked = matchSeries({ layer: 'nope', kind: 'output' }, det, layers);
    expect(asked.notices).toEqual([
      'no layer or role "nope" in these runs: showing recurrent layer 1',
      'no output recorded for recurrent layer 1: showing output-grad',
    ]);
  });

  it('groups by a parameter in value order, the runs without it last; colour per group; verdict tallies', () => {
    const s = { ...DEFAULT_COMPARE, runs: all.map((r) => r.name), by: 'lr' };
    const m = matchSeries(s, det, layers);
    const flows = m.flowKeys.map((k) => (k ? flow([0, 100, 200]) : null));
    const sc = all.map((_, i) => scalars(i === 4 ? null : 0.25));
    const outs = all.map((r, i) =>
      outcome(r, i % 3 === 2 ? 'not-learning' : 'learning-long', m.match.names[i]!),
    );
    const v = assembleCompare(s, all, all, det, layers, sc, m, flows, outs);
    expect(v.groups!.map((g) => [g.label, g.runs.map((c) => c.record.id)])).toEqual([
      ['0.001', ['id-3', 'id-4']],
      ['0.01', ['id-0', 'id-1', 'id-2']],
      ['no lr', ['id-5']],
    ]);
    expect(v.groups!.map((g) => g.color)).toEqual([runColor(0), runColor(1), runColor(2)]);
    expect(v.runs.find((c) => c.record.id === 'id-2')!.color).toBe(runColor(1));
    expect(v.groups![1]!.verdicts).toEqual({
      'learning-long': 2,
      'learning-short': 0,
      'not-learning': 1,
      'insufficient-data': 0,
    });
    // id-4 has no baseline: losses are drawn as they are, not divided.
    expect(v.lossRatio).toBe(false);
    expect(v.chosen).toEqual([0, 100, 200]);
    expect(v.iterations).toEqual([0, 100, 200]);
    expect(v.notices).toEqual([
      'run-2: no per-timestep jacobian recorded for simple_rnn',
      'run-5: no per-timestep jacobian recorded for simple_rnn',
    ]);
    expect(v.fixes).toEqual({});
    // With every baseline recorded the loss is drawn ÷ its baseline.
    const all25 = all.map(() => scalars(0.25));
    expect(assembleCompare(s, all, all, det, layers, all25, m, flows, outs).lossRatio).toBe(true);
  });

  it('tells the URL the runs by their keys and the kind drawn; unknown verdicts stay unknown', () => {
    const s = { ...DEFAULT_COMPARE, runs: ['id-0', 'id-1'], kind: 'output' as const };
    const two = all.slice(0, 2);
    const m = matchSeries(s, det.slice(0, 2), layers.slice(0, 2));
    const v = assembleCompare(
      s,
      all,
      two,
      det.slice(0, 2),
      layers.slice(0, 2),
      [null, null],
      m,
      [null, null],
      null,
    );
    expect(v.fixes).toEqual({ runs: ['run-0', 'run-1'], kind: 'output-grad' });
    expect(v.groups).toBeNull();
    expect(v.runs.map((c) => [c.color, c.verdicts])).toEqual([
      [runColor(0), null],
      [runColor(1), null],
    ]);
  });
});
