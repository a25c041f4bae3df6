// The diagnosis read back from a real store file equals the diagnosis of the same snapshots computed in
// memory (the observations built here directly from the arrays, the store's from its write-time summaries
// and tensors): one set of rules, two independent paths to what they read.

import { join } from 'node:path';
import {
  diagnose,
  type IterationObservation,
  lastAxisNorms,
  saturatedShare,
  timestepNorms,
} from '@gradscope/format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diagnoseReader, diagnoseRun } from './diagnosis.js';
import { openReader } from './reader.js';
import { openStore } from './store.js';
import { runInfo, tempDir } from './test-util/fixtures.js';
import type { Snapshot } from './types.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const N = 3;
const T = 12;
const C = 2;
const U = 4;

/** [N, T, C] values whose per-timestep norm decays by `rate` decades per step back from the last step. */
function profile(rate: number, seed: number): Float32Array {
  const out = new Float32Array(N * T * C);
  for (let s = 0; s < N; s++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++)
        out[(s * T + t) * C + c] = 10 ** (-rate * (T - 1 - t)) * Math.cos(seed + 1.3 * s + 0.7 * c + 0.1 * t);
  return out;
}

function snap(
  run: string,
  iteration: number,
  kind: Snapshot['kind'],
  data: Float32Array,
  shape: number[],
  loss: number,
  part?: string,
): Snapshot {
  let nonFinite = 0;
  for (const v of data) if (!Number.isFinite(v)) nonFinite++;
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration,
    layer: 'gru',
    layerClass: 'GRU',
    kind,
    ...(part !== undefined ? { part } : {}),
    shape,
    dims: shape.length === 3 ? ['sample', 'timestep', 'channel'] : ['input', 'unit'],
    data,
    loss,
    time: 1_764_000_000_000 + iteration,
    nonFinite,
  };
}

/** Five captures: the loss falls from 0.9 to 0.05 of the baseline, the jacobian reaches far, unit 2 is dead. */
function learner(run: string, poison = false): Snapshot[] {
  const out: Snapshot[] = [];
  [10, 20, 30, 40, 50].forEach((iteration, i) => {
    const loss = [0.9, 0.6, 0.3, 0.1, 0.05][i]!;
    const jacobian = profile(0.1, i);
    if (poison && i === 4) jacobian[5] = Number.NaN;
    out.push(snap(run, iteration, 'jacobian', jacobian, [N, T, C], loss));
    out.push(snap(run, iteration, 'input-grad', profile(0.05, i + 10), [N, T, C], loss));
    const output = Float32Array.from({ length: N * T * U }, (_, k) =>
      k % 3 !== 0 ? -0.995 : 0.2 * Math.sin(k),
    );
    out.push(snap(run, iteration, 'output', output, [N, T, U], loss));
    const grad = Float32Array.from({ length: C * U }, (_, k) => (k % U === 2 ? 0 : Math.sin(k + i) + 1.5));
    out.push(snap(run, iteration, 'weight-grad', grad, [C, U], loss, 'kernel/z'));
  });
  return out;
}

/** The observations of `learner`, built here from the arrays. */
function expectedObservations(snapshots: Snapshot[]): IterationObservation[] {
  const byIteration = new Map<number, IterationObservation>();
  for (const s of snapshots) {
    const o = byIteration.get(s.iteration) ?? {
      iteration: s.iteration,
      loss: s.loss,
      nonFinite: 0,
      profiles: [],
    };
    byIteration.set(s.iteration, o);
    o.nonFinite += s.nonFinite;
    if (s.kind === 'jacobian' || s.kind === 'input-grad')
      o.profiles.push({ kind: s.kind, part: null, norms: timestepNorms(s.data, s.shape) });
    if (s.kind === 'output') o.saturatedShare = saturatedShare(s.data)!;
    if (s.kind === 'weight-grad') o.unitGradNorms = [{ part: '', norms: lastAxisNorms(s.data, s.shape) }];
  }
  return [...byIteration.values()];
}

async function write(file: string, runs: [string, Snapshot[], number | null][]) {
  const store = openStore(file);
  for (const [id, snapshots, baseline] of runs) {
    await store.startRun({
      ...runInfo(id, `name-${id}`),
      startedAt: 1_764_000_000_000 + runs.findIndex((r) => r[0] === id),
    });
    for (const s of snapshots) await store.write(s);
    if (baseline !== null)
      await store.writeScalars(id, [{ iteration: 0, name: 'probe/baseline', value: baseline, time: 1 }]);
    await store.endRun(id, 'finished');
  }
  await store.close();
}

describe('diagnoseReader', () => {
  it('equals the diagnosis of the same snapshots in memory: verdict, causes and evidence', async () => {
    const file = join(dir, 'd.gradscope');
    const snapshots = learner('a');
    await write(file, [['a', snapshots, 1]]);
    const reader = openReader(file);
    try {
      const got = await diagnoseRun(reader, 'a');
      const want = diagnose({
        id: 'a',
        name: 'name-a',
        baseline: 1,
        layers: [{ layer: 'gru', layerClass: 'GRU', iterations: expectedObservations(snapshots) }],
      });
      expect(got.layers).toHaveLength(1);
      const [g, w] = [got.layers[0]!, want.layers[0]!];
      expect(g.verdict).toBe('learning-long');
      expect(g.verdict).toBe(w.verdict);
      expect(g.causes).toEqual(['saturated', 'dead-units']);
      expect(g.causes).toEqual(w.causes);
      expect(g.iterations.map((i) => i.verdict)).toEqual(w.iterations.map((i) => i.verdict));
      expect(g.evidence).toMatchObject({
        iteration: 50,
        baselineMethod: 'constant-predictor',
        deadUnits: 1,
        units: U,
      });
      expect(g.evidence.lossRatio).toBeCloseTo(0.05, 6);
      expect(g.evidence.saturatedShare).toBeCloseTo(w.evidence.saturatedShare!, 6);
      for (const [i, r] of g.evidence.reach.entries()) {
        const e = w.evidence.reach[i]!;
        expect([r.kind, r.reach1e2, r.reach1e4]).toEqual([e.kind, e.reach1e2, e.reach1e4]);
        // The store's norms are float32 from its own summary kernel.
        expect(r.decadesPerStep!).toBeCloseTo(e.decadesPerStep!, 4);
        expect(r.farRatio).toBeCloseTo(e.farRatio, 5);
      }
      expect(g.evidence.reach[0]!.decadesPerStep).toBeCloseTo(0.1, 2);
    } finally {
      reader.close();
    }
  });

  it('every run by default, newest first; a NaN is non-finite; without a baseline, the first probe loss', async () => {
    const file = join(dir, 'd.gradscope');
    await write(file, [
      ['a', learner('a'), 1],
      ['b', learner('b', true), null],
    ]);
    const reader = openReader(file);
    try {
      const report = await diagnoseReader(reader);
      expect(report.runs.map((r) => [r.id, r.name])).toEqual([
        ['b', 'name-b'],
        ['a', 'name-a'],
      ]);
      const b = report.runs[0]!.layers[0]!;
      expect(b).toMatchObject({ verdict: 'not-learning' });
      expect(b.causes).toContain('non-finite');
      expect(b.evidence).toMatchObject({
        baselineMethod: 'first-probe-loss',
        nonFinite: 1,
        nonFiniteTotal: 1,
      });
      expect(b.evidence.lossRatio).toBeCloseTo(0.05 / 0.9, 6);
      // By name, as the CLI takes it.
      expect((await diagnoseReader(reader, ['name-a'])).runs[0]!.id).toBe('a');
    } finally {
      reader.close();
    }
  });
});
