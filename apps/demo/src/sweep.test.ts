// The sweep: its runs (cells × learning rates × seeds, grouped by the seed-free configuration), and the built
// `pnpm sweep --size tiny` end to end: every run in one store with its group and parameters, and the doctor's
// groups printed at the end agreeing with the outcomes the runs measured themselves.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatNumber } from '@gradscope/format';
import { openReader } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LONG } from './labelled/runs.js';
import { SWEEP_SIZES, sweepRuns } from './labelled/sweep.js';

const SWEEP = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'sweep-main.js');

describe('sweepRuns', () => {
  it('3 cells × 2 learning rates × 3 seeds, grouped by the seed-free configuration', () => {
    const runs = sweepRuns(SWEEP_SIZES.default);
    expect(runs).toHaveLength(18);
    expect([...new Set(runs.map((r) => r.group))]).toEqual([
      'simplernn-lr0.005',
      'simplernn-lr0.01',
      'gru-lr0.005',
      'gru-lr0.01',
      'lstm-lr0.005',
      'lstm-lr0.01',
    ]);
    for (const { run, group, params } of runs) {
      expect(run.name).toBe(`${group}-s${run.seed}`);
      expect(params.seed).toBe(run.seed);
      expect(run.task).toEqual(LONG);
      // Only the initial weights differ between seeds: the data and the probe are the same.
      expect(run.dataSeed).toBe(1);
      expect(params.keepBias).toBe(run.keepBias);
    }
    expect(runs.filter((r) => r.group === 'gru-lr0.01').map((r) => r.run.seed)).toEqual([1, 2, 3]);
    expect(runs.find((r) => r.run.cell === 'lstm')!.run.keepBias).toBe(3);
    expect(runs.find((r) => r.run.cell === 'gru')!.run.keepBias).toBe(2);
    expect(runs.find((r) => r.run.cell === 'simpleRNN')!.run.keepBias).toBeUndefined();
    expect(sweepRuns(SWEEP_SIZES.tiny, 1)).toHaveLength(6);
  });
});

describe('pnpm sweep --size tiny --seeds 2', () => {
  let dir: string;
  let db: string;
  let output: { stdout: string; stderr: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gradscope-sweep-'));
    db = join(dir, 'sweep.gradscope');
    output = await promisify(execFile)(
      process.execPath,
      [SWEEP, '--size', 'tiny', '--seeds', '2', '--db', db],
      {
        timeout: 600_000,
      },
    );
  }, 600_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the 12 runs in one store, each with its group and parameters', () => {
    expect(output.stderr).toContain(`gradscope sweep: 12 runs into ${db}`);
    expect(output.stderr).toMatch(/trained 12 of 12 runs in \d+ s/);
    const reader = openReader(db);
    try {
      const runs = reader.listRuns();
      const expected = sweepRuns(SWEEP_SIZES.tiny, 2);
      expect(runs.map((r) => r.name).sort()).toEqual(expected.map((r) => r.run.name).sort());
      for (const { run, group, params } of expected) {
        const stored = runs.find((r) => r.name === run.name)!;
        expect(stored.status).toBe('finished');
        expect(stored.group).toBe(group);
        // The user's parameters beside what the callback read from the model and the fit.
        expect(stored.params).toMatchObject({
          ...params,
          cell: { simpleRNN: 'SimpleRNN', gru: 'GRU', lstm: 'LSTM' }[run.cell],
          lr: run.learningRate,
          units: 8,
          timesteps: 16,
        });
      }
    } finally {
      reader.close();
    }
  });

  it("prints the doctor's groups: each configuration's loss ÷ baseline is the median of its runs' own outcomes", () => {
    const reader = openReader(db);
    const ratios = new Map<string, number[]>();
    try {
      for (const run of reader.listRuns()) {
        const ratio = (run.meta.labelled as { ratio: number }).ratio;
        ratios.set(run.group!, [...(ratios.get(run.group!) ?? []), ratio]);
      }
    } finally {
      reader.close();
    }
    expect(output.stdout).toContain(`gradscope doctor ${db} --group-by group:`);
    const table = output.stdout.split('\n');
    for (const [group, values] of ratios) {
      expect(values).toHaveLength(2);
      const [a, b] = [...values].sort((x, y) => x - y) as [number, number];
      const line = table.find((l) => l.startsWith(`${group} `))!;
      const cells = line.split(/\s{2,}/);
      expect(cells.slice(0, 3)).toEqual([group, '1', '2']);
      // The run's ratio is its evaluate() after the last step; the doctor's, the probe pass's loss there.
      expect(cells[8]).toBe(`${formatNumber((a + b) / 2)} (${formatNumber(a)}–${formatNumber(b)})`);
      // One configuration at two seeds: counted in seeds.
      expect(table.some((l) => l.startsWith(`  ${group}: layer 1 `) && l.includes(' of 2 seeds'))).toBe(true);
    }
  });
});
