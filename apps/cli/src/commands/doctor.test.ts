// gradscope doctor on runs trained here with the default capture: the built CLI's table and JSON agree with
// the verdict the callback printed when fit ended, and --fail-on fails a run that learned nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GradientCallback, gradientCallback } from '@gradscope/capture';
import { openStore } from '@gradscope/store';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const T = 6;
let dir: string;
let db: string;
const callbacks: Record<string, GradientCallback> = {};
const printed: string[] = [];

const doctor = (...args: string[]) => spawnSync('node', [MAIN, 'doctor', db, ...args], { encoding: 'utf8' });

/** x: [n, T, 1] standard normal; y: the value one step before the last (`copy`), or noise of its own. */
function task(n: number, seed: number, copy: boolean) {
  const x = tf.randomNormal([n, T, 1], 0, 1, 'float32', seed);
  const y = copy
    ? tf.reshape(tf.slice(x, [0, T - 2, 0], [n, 1, 1]), [n, 1])
    : tf.randomNormal([n, 1], 0, 1, 'float32', seed + 1);
  return { x, y };
}

async function train(name: string, copy: boolean): Promise<void> {
  const model = tf.sequential();
  model.add(
    tf.layers.simpleRNN({
      units: 8,
      inputShape: [T, 1],
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: 2 }),
    }),
  );
  model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  model.compile({ optimizer: tf.train.adam(0.03), loss: 'meanSquaredError' });
  const { x, y } = task(256, 10, copy);
  const store = openStore(db);
  const cb = gradientCallback({ every: 20, probe: task(64, 50, copy), sink: store, runName: name });
  await model.fit(x, y, { epochs: 8, batchSize: 32, shuffle: false, verbose: 0, callbacks: [cb] });
  await store.close();
  callbacks[name] = cb;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'gradscope-doctor-'));
  db = join(dir, 'runs.gradscope');
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
  await train('copy-lag1', true);
  await train('noise-target', false);
  log.mockRestore();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gradscope doctor', () => {
  it("--json: the callback's verdict per layer, with the evidence behind it", () => {
    const res = doctor('--json');
    expect(res.status).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.runs.map((r: { name: string }) => r.name)).toEqual(['noise-target', 'copy-lag1']);
    for (const run of report.runs) {
      const mine = callbacks[run.name]!.diagnosis().layers;
      expect(run.layers.map((l: { layer: string }) => l.layer)).toEqual(mine.map((l) => l.layer));
      run.layers.forEach(
        (l: { verdict: string; causes: string[]; evidence: { lossRatio: number } }, i: number) => {
          expect(l.verdict).toBe(mine[i]!.verdict);
          expect(l.causes).toEqual(mine[i]!.causes);
          expect(l.evidence.lossRatio).toBeCloseTo(mine[i]!.evidence.lossRatio!, 5);
        },
      );
    }
    const noise = report.runs[0].layers[0];
    expect(noise.verdict).toBe('not-learning');
    expect(noise.evidence.lossRatio).toBeGreaterThan(0.9);
    expect(noise.evidence.baselineMethod).toBe('constant-predictor');
    const copy = report.runs[1].layers[0];
    expect(copy.evidence.lossRatio).toBeLessThan(0.5);
    expect(copy.verdict).toMatch(/^learning-/);
    // The default capture recorded the loss-free jacobian: the verdict rests on it.
    expect(copy.evidence.reach.map((r: { kind: string }) => r.kind)).toEqual(['jacobian', 'input-grad']);
  });

  it('the callback printed the same verdict, one line per layer, when fit ended', () => {
    expect(printed).toHaveLength(2);
    expect(printed[0]).toMatch(/^gradscope: simple_rnn\w*: learning/);
    expect(printed[1]).toMatch(
      /^gradscope: simple_rnn\w*: not learning \(loss \d\.\d+× the constant predictor/,
    );
  });

  it('the table: one line per layer, then the verdicts in words; --run picks runs by name', () => {
    const res = doctor('--run', 'noise-target');
    expect(res.status).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+LAYER\s+VERDICT\s+CAUSES\s+LOSS\/BASELINE/);
    expect(lines[1]).toMatch(/^noise-target\s+simple_rnn\w*\s+not-learning\s/);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^ {2}noise-target simple_rnn\w*: not learning/);
  });

  it('--fail-on exits 1 naming the layers that matched; 0 when none did', () => {
    const failed = doctor('--fail-on', 'not-learning,vanishing');
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(
      /^gradscope: doctor: 1 layer matched --fail-on not-learning,vanishing: noise-target\/simple_rnn\w* \(not-learning/,
    );
    expect(doctor('--run', 'copy-lag1', '--fail-on', 'not-learning').status).toBe(0);
  });

  it('a misspelt --fail-on item or an unknown run: one line, exit 1', () => {
    const typo = doctor('--fail-on', 'not-learnin');
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/unknown verdict or cause 'not-learnin'; did you mean 'not-learning'\?/);
    const run = doctor('--run', 'nope');
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(`gradscope: --run: no run with id or name 'nope' in ${db}`);
  });
});
