// gradscope doctor --group-by on runs whose verdicts are known by construction: synthetic jacobians with an
// exact decay and probe losses chosen by hand, written to a real store file with their groups and params.
// The groups' counts and spreads are checked against numbers worked out here from those choices.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunInfo, Snapshot } from '@gradscope/format';
import { openStore } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const N = 2;
const T = 12;
const C = 3;
let dir: string;
let db: string;

/** A run: its group and params, the decay of its jacobian (decades per step back) and its final probe loss. */
interface Case {
  id: string;
  group: string;
  params: Record<string, unknown>;
  rate: number;
  loss: number;
}

// The baseline is 1, so the loss is the loss ratio. Far/peak is 10^(-rate · T/2): the first lag ≥ T/2 is 6.
// Learning (ratio ≤ 0.5) and far/peak ≥ 0.01 is learning-long; far/peak < 0.01 learning-short; ratio > 0.5 not-learning.
const CASES: Case[] = [
  { id: 'g5-s1', group: 'gru-lr0.005', params: { cell: 'GRU', lr: 0.005, seed: 1 }, rate: 0.1, loss: 0.04 },
  { id: 'g5-s2', group: 'gru-lr0.005', params: { cell: 'GRU', lr: 0.005, seed: 2 }, rate: 0.05, loss: 0.01 },
  { id: 'g5-s3', group: 'gru-lr0.005', params: { cell: 'GRU', lr: 0.005, seed: 3 }, rate: 0.1, loss: 1.0 },
  { id: 'g10-s1', group: 'gru-lr0.01', params: { cell: 'GRU', lr: 0.01, seed: 1 }, rate: 0.4, loss: 0.9 },
  { id: 'g10-s2', group: 'gru-lr0.01', params: { cell: 'GRU', lr: 0.01, seed: 2 }, rate: 0.4, loss: 0.3 },
  { id: 'l5-s1', group: 'lstm-lr0.005', params: { cell: 'LSTM', lr: 0.005, seed: 1 }, rate: 0.1, loss: 0.2 },
];
const far = (rate: number) => 10 ** (-rate * (T / 2));

function jacobian(rate: number, seed: number): Float32Array {
  const out = new Float32Array(N * T * C);
  for (let s = 0; s < N; s++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++)
        out[(s * T + t) * C + c] = 10 ** (-rate * (T - 1 - t)) * (1 + 0.1 * c + 0.05 * s + 0.01 * seed);
  return out;
}

function snap(run: Case, layer: string, iteration: number, loss: number): Snapshot {
  return {
    run: run.id,
    iteration,
    epoch: 0,
    batch: iteration,
    layer,
    layerClass: run.params.cell as string,
    kind: 'jacobian',
    shape: [N, T, C],
    dims: ['sample', 'timestep', 'channel'],
    data: jacobian(run.rate, iteration),
    loss,
    time: 1_764_000_000_000 + iteration,
    nonFinite: 0,
  };
}

function info(run: Case, i: number): RunInfo {
  return {
    id: run.id,
    name: run.id,
    startedAt: 1_764_000_000_000 + i,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['jacobian'], layers: [] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
    group: run.group,
    params: run.params,
  };
}

const doctor = (...args: string[]) =>
  spawnSync(process.execPath, [MAIN, 'doctor', db, ...args], { encoding: 'utf8', timeout: 60_000 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-groups-'));
  db = join(dir, 'sweep.gradscope');
  const store = openStore(db);
  for (const [i, run] of CASES.entries()) {
    await store.startRun(info(run, i));
    await store.writeScalars(run.id, [{ iteration: 0, name: 'probe/baseline', value: 1, time: 1 }]);
    // tfjs numbers layers per process: each run's layer has its own name.
    const layer = `${(run.params.cell as string).toLowerCase()}_${i + 1}`;
    await store.write(snap(run, layer, 10, 1));
    await store.write(snap(run, layer, 20, run.loss));
    await store.endRun(run.id, 'finished');
  }
  await store.close();
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface GroupJson {
  key: string;
  group: string | null;
  runs: string[];
  verdicts: Record<string, number>[];
  evidence: {
    runs: number;
    layers: string[];
    runsByVerdict: Record<string, string[]>;
    shareBeyondHalf: { n: number; median: number } | null;
    lossRatio: { n: number; median: number; min: number; max: number; mean: number };
    farRatio: { n: number; median: number; min: number; max: number };
  }[];
  summary: string[];
}

describe('gradscope doctor --group-by', () => {
  it('--json: runs as without --group-by, and groups with verdict counts and spreads worked out by hand', () => {
    const plain = doctor('--json');
    const grouped = doctor('--json', '--group-by', 'group');
    expect([grouped.status, grouped.stderr]).toEqual([0, '']);
    const report = JSON.parse(grouped.stdout) as { runs: { id: string }[]; groups: GroupJson[] };
    expect(report.runs).toEqual(JSON.parse(plain.stdout).runs);
    expect(Object.keys(report)).toEqual(['runs', 'groups']);

    const groups = report.groups;
    // Runs newest first within a group (the doctor's order); groups in natural order of their names, the
    // numbers in them compared by value ('lr0.005' before 'lr0.01').
    expect(groups.map((g) => [g.key, g.group, g.runs])).toEqual([
      ['group', 'gru-lr0.005', ['g5-s3', 'g5-s2', 'g5-s1']],
      ['group', 'gru-lr0.01', ['g10-s2', 'g10-s1']],
      ['group', 'lstm-lr0.005', ['l5-s1']],
    ]);
    const none = { 'learning-long': 0, 'learning-short': 0, 'not-learning': 0, 'insufficient-data': 0 };
    expect(groups.map((g) => g.verdicts)).toEqual([
      [{ ...none, 'learning-long': 2, 'not-learning': 1 }], // ratios 0.04, 0.01 (far 0.25, 0.5) and 1.0
      [{ ...none, 'learning-short': 1, 'not-learning': 1 }], // 0.3 with far 10^-2.4 = 0.004; 0.9
      [{ ...none, 'learning-long': 1 }],
    ]);
    const [a, b, c] = groups.map((g) => g.evidence[0]!);
    expect(a!.runsByVerdict).toEqual({ 'learning-long': ['g5-s2', 'g5-s1'], 'not-learning': ['g5-s3'] });
    // Jacobians only: no input gradient, no share of the loss gradient beyond T/2.
    expect(a!.shareBeyondHalf).toBeNull();
    expect(a!.runs).toBe(3);
    expect(a!.layers).toEqual(['gru_3', 'gru_2', 'gru_1']);
    // Loss ratios 1.0, 0.01, 0.04 (float32 losses over a baseline of 1): median 0.04, range 0.01–1, mean 1.05 / 3.
    expect(a!.lossRatio.n).toBe(3);
    expect(a!.lossRatio.median).toBeCloseTo(0.04, 7);
    expect(a!.lossRatio.min).toBeCloseTo(0.01, 7);
    expect(a!.lossRatio.max).toBeCloseTo(1, 7);
    expect(a!.lossRatio.mean).toBeCloseTo(1.05 / 3, 7);
    // Far/peak 10^-0.6 (twice) and 10^-0.3: median 10^-0.6.
    expect(a!.farRatio.median).toBeCloseTo(far(0.1), 5);
    expect(a!.farRatio.max).toBeCloseTo(far(0.05), 5);
    expect(b!.lossRatio.median).toBeCloseTo(0.6, 7);
    expect(b!.farRatio.median).toBeCloseTo(far(0.4), 6);
    expect(c!.lossRatio).toMatchObject({ n: 1 });
    expect(c!.lossRatio.median).toBeCloseTo(0.2, 7);
    // Each run of the group has its own seed: counted in seeds, named per verdict.
    expect(groups[0]!.summary).toEqual([
      'layer 1 (gru_3, gru_2, gru_1): learning-long in 2 of 3 seeds (seeds 1, 2), not-learning in 1 (seed 3) ' +
        '(loss ÷ baseline median 0.04, range 0.01–1; far/peak median 0.251, range 0.251–0.501)',
    ]);
  });

  it('by a parameter: lr groups across cells, numbers in numeric order; the table and the lines in words', () => {
    const res = doctor('--group-by', 'lr');
    expect([res.status, res.stderr]).toEqual([0, '']);
    const out = res.stdout;
    const groupTable = out.slice(out.indexOf('\nLR '));
    const lines = groupTable.trim().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual([
      'LR',
      'LAYER',
      'RUNS',
      'LEARNING-LONG',
      'LEARNING-SHORT',
      'NOT-LEARNING',
      'INSUFFICIENT-DATA',
      'CAUSES',
      'LOSS/BASELINE MEDIAN (RANGE)',
      'LOSS GRAD>T/2 MEDIAN (RANGE)',
      'FAR/PEAK MEDIAN (RANGE)',
    ]);
    // lr 0.005: GRU ratios 1.0, 0.01, 0.04 and LSTM 0.2 → median (0.04 + 0.2) / 2 = 0.12; 3 long, 1 not.
    expect(lines[1]!.split(/\s{2,}/)).toEqual([
      '0.005',
      '1',
      '4',
      '3',
      '0',
      '1',
      '0',
      '-',
      '0.12 (0.01–1)',
      '-',
      '0.251 (0.251–0.501)',
    ]);
    // lr 0.01: 0.9 and 0.3 → 0.6; far 10^-2.4 = 0.00398 twice.
    expect(lines[2]!.split(/\s{2,}/)).toEqual([
      '0.01',
      '1',
      '2',
      '0',
      '1',
      '1',
      '0',
      '-',
      '0.6 (0.3–0.9)',
      '-',
      '0.00398 (0.00398–0.00398)',
    ]);
    // lr 0.005 holds a GRU and the LSTM (seed 1 twice): counted as runs; lr 0.01 is one configuration (GRU)
    // at seeds 1 and 2: counted in seeds.
    expect(lines.slice(-2)).toEqual([
      '  0.005: layer 1 (lstm_6, gru_3, gru_2, …): learning-long in 3 of 4 runs, not-learning in 1 (loss ÷ baseline median 0.12, range 0.01–1; far/peak median 0.251, range 0.251–0.501)',
      // A tie: the verdicts in their order (learning-long, learning-short, not-learning, insufficient-data).
      '  0.01: layer 1 (gru_5, gru_4): learning-short in 1 of 2 seeds (seed 2), not-learning in 1 (seed 1) (loss ÷ baseline median 0.6, range 0.3–0.9; far/peak 0.00398 in all 2)',
    ]);
  });

  it('a key no run has is an error naming the keys the runs do have', () => {
    const res = doctor('--group-by', 'seeds');
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(
      "gradscope: --group-by: no run has 'seeds'; did you mean 'seed'? (the runs have: group, cell, lr, seed)\n",
    );
    expect(doctor('--group-by', '').stderr).toBe(
      "gradscope: --group-by needs a key: 'group' or a parameter name such as cell or lr\n",
    );
  });
});
