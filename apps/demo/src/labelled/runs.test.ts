// The labelled benchmark at tiny size: each run trains into a real store on the wasm backend; its measured
// outcome must lie in the range it was chosen for (a changed seed or default that flips it fails here), and
// the store's diagnosis of every layer must equal the run's truth (its lag and measured outcome).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnoseReader, openReader, openStore } from '@gradscope/store';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LabelledResult,
  LEARNED_BELOW,
  NOT_LEARNED_ABOVE,
  TINY_RUNS,
  trainLabelled,
  truthOf,
} from './runs.js';
import { CHANNELS, constantPredictorMse, delayedRecall, lagRange } from './tasks.js';

describe('delayedRecall', () => {
  const task = { timesteps: 12, cue: { first: 2, last: 4 } };

  it('shows one value at one cue in the range, flagged by the marker, and asks for it', () => {
    const d = delayedRecall(500, task, 3);
    const wrong: string[] = [];
    const seen = new Set<number>();
    for (let s = 0; s < d.samples; s++) {
      const marked: number[] = [];
      for (let t = 0; t < task.timesteps; t++) {
        const [value, marker, noise] = [0, 1, 2].map((c) => d.x[(s * task.timesteps + t) * CHANNELS + c]!);
        if (!(noise! >= -1 && noise! < 1)) wrong.push(`${s}/${t}: noise ${noise}`);
        if (marker === 1) marked.push(t);
        else if (marker !== 0 || value !== 0) wrong.push(`${s}/${t}: value ${value} off the cue`);
      }
      if (marked.length !== 1 || marked[0] !== d.cues[s]) wrong.push(`${s}: marked ${marked}`);
      const t = marked[0]!;
      if (d.y[s] !== d.x[(s * task.timesteps + t) * CHANNELS]) wrong.push(`${s}: target ${d.y[s]}`);
      seen.add(t);
    }
    expect(wrong).toEqual([]);
    expect([...seen].sort()).toEqual([2, 3, 4]);
    expect(lagRange(task)).toEqual({ min: 7, max: 9 });
    // Uniform(−1, 1) targets: the constant predictor's MSE is 1/3 (SE of the estimate ≈ 0.013 at 500).
    expect(Math.abs(constantPredictorMse(d.y) - 1 / 3)).toBeLessThan(0.05);
    expect(delayedRecall(3, task, 3).x).toEqual(delayedRecall(3, task, 3).x);
    expect(delayedRecall(3, task, 4).x).not.toEqual(delayedRecall(3, task, 3).x);
  });

  it('draws independent targets apart from the same inputs', () => {
    const a = delayedRecall(2000, task, 5);
    const b = delayedRecall(2000, { ...task, independent: true }, 5);
    expect(b.x).toEqual(a.x);
    // Correlation of the cued value with the independent target: ~N(0, 1/√2000) ≈ ±0.022.
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < a.samples; i++) {
      sab += a.y[i]! * b.y[i]!;
      saa += a.y[i]! ** 2;
      sbb += b.y[i]! ** 2;
    }
    expect(Math.abs(sab / Math.sqrt(saa * sbb))).toBeLessThan(0.1);
  });

  it('rejects a cue outside the sequence', () => {
    expect(() => delayedRecall(1, { timesteps: 8, cue: { first: 3, last: 8 } }, 1)).toThrow(
      /0 ≤ first ≤ last < 8/,
    );
  });
});

describe('truthOf', () => {
  const long = { timesteps: 48, cue: { first: 0, last: 7 } };
  const short = { timesteps: 48, cue: { first: 44, last: 47 } };
  it('is the lag together with the outcome', () => {
    expect(truthOf(long, 0.03)).toBe('learning-long');
    expect(truthOf(short, 0.03)).toBe('learning-short');
    expect(truthOf(long, 0.84)).toBe('not-learning');
    expect(truthOf(short, Number.NaN)).toBe('not-learning');
    expect(truthOf(long, 0.5)).toBe('unclear');
    expect(truthOf({ ...long, independent: true }, 0.1)).toBe('not-learning');
    // 40 is long whatever T; a tiny task's long is half its length.
    expect(truthOf({ timesteps: 88, cue: { first: 40, last: 47 } }, 0.03)).toBe('learning-long');
    expect(truthOf({ timesteps: 16, cue: { first: 0, last: 7 } }, 0.03)).toBe('learning-long');
    expect(truthOf({ timesteps: 16, cue: { first: 0, last: 8 } }, 0.03)).toBe('unclear');
    // Lags between short and long have no truth.
    expect(truthOf({ timesteps: 48, cue: { first: 30, last: 40 } }, 0.03)).toBe('unclear');
  });
});

describe('tiny labelled runs', () => {
  let dir: string;
  const results = new Map<string, LabelledResult>();
  let report: Awaited<ReturnType<typeof diagnoseReader>>;

  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    dir = mkdtempSync(join(tmpdir(), 'gradscope-labelled-'));
    const file = join(dir, 'labelled.gradscope');
    const store = await openStore(file);
    try {
      for (const run of TINY_RUNS) results.set(run.name, await trainLabelled(run, store, { verbose: 0 }));
    } finally {
      await store.close();
    }
    const reader = openReader(file);
    try {
      report = await diagnoseReader(
        reader,
        [...results.values()].map((r) => r.runId),
      );
    } finally {
      reader.close();
    }
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(TINY_RUNS.map((r) => [r.name, r] as const))('%s: the outcome it was chosen for', (name, run) => {
    const r = results.get(name)!;
    expect(r.dropped).toBe(0);
    if (run.expect!.learns) expect(r.ratio).toBeLessThan(LEARNED_BELOW);
    else expect(Number.isNaN(r.ratio) || r.ratio > NOT_LEARNED_ABOVE).toBe(true);
    expect(r.truth).not.toBe('unclear');
  });

  it.each(TINY_RUNS.map((r) => [r.name, r] as const))('%s: diagnosed as its truth', (name, run) => {
    const r = results.get(name)!;
    const diagnosed = report.runs.find((d) => d.id === r.runId)!;
    expect(diagnosed.name).toBe(name);
    expect(diagnosed.layers.length).toBe(1);
    for (const layer of diagnosed.layers) {
      expect({ layer: layer.layer, verdict: layer.verdict }).toEqual({
        layer: layer.layer,
        verdict: r.truth,
      });
      expect(layer.causes).toEqual(expect.arrayContaining(run.expect!.causes));
      // The diagnosis judged the loss against the same constant predictor as the truth.
      expect(layer.evidence.baselineMethod).toBe('constant-predictor');
      expect(layer.evidence.baseline).toBeCloseTo(r.baseline, 5);
    }
  });
});
