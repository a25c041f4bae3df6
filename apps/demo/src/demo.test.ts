// The demo end to end: the built demo (`pnpm demo`) trains the gallery at the tiny size into a real store; the store
// holds every example's run with iterations 20/200/400, the memory set learns (gated cells) and carries
// input gradients, and every gallery text's numbers are the store's; then the viewer opens the gallery
// and each example's view in headless Chromium (screenshots kept in artifacts/).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildServer } from '@gradscope/server';
import { openReader, openRunReader, type Reader } from '@gradscope/store';
import { viewerDir } from '@gradscope/viewer';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../../../scripts/chromium.mjs';
import { createDatabase, storeContents } from '../../../scripts/test-stores.mjs';
import { addingProblem, meanPredictorMse } from './adding.js';
import { fmt, type RunFindings } from './annotate.js';
import { demoRuns, type GalleryEntry, MEMORY_RUNS, SIZES } from './examples.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEMO = join(here, '..', 'dist', 'main.js');
const CLI = join(here, '..', '..', 'cli', 'dist', 'main.js');
const ARTIFACTS = join(here, '..', '..', '..', 'artifacts', 'demo');

let dir: string;
let db: string;
let reader: Reader;
let output: { stdout: string; stderr: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-demo-'));
  db = join(dir, 'demo.gradscope');
  output = await promisify(execFile)(process.execPath, [DEMO, '--size', 'tiny', '--no-serve', '--db', db], {
    timeout: 1_200_000,
  });
  reader = openReader(db);
}, 1_200_000);

afterAll(() => {
  reader?.close();
  rmSync(dir, { recursive: true, force: true });
});

const expectedRuns = demoRuns(SIZES.tiny);
const seedRunNames = expectedRuns.filter((r) => r.task === 'random').map((r) => r.name);

describe('the adding problem', () => {
  it('marks one timestep in each half and sums the two marked values', () => {
    const T = 50;
    const d = addingProblem(2000, T, 7);
    const wrong: string[] = [];
    for (let s = 0; s < d.samples; s++) {
      const marked: number[] = [];
      let sum = 0;
      for (let t = 0; t < T; t++) {
        const value = d.x[(s * T + t) * 2]!;
        const marker = d.x[(s * T + t) * 2 + 1]!;
        if (!(value >= 0 && value < 1) || (marker !== 0 && marker !== 1))
          wrong.push(`${s}/${t}: ${value}, ${marker}`);
        if (marker === 1) {
          marked.push(t);
          sum += value;
        }
      }
      const [a, b] = d.marks[s]!;
      if (marked.length !== 2 || marked[0] !== a || marked[1] !== b || !(a < T / 2) || !(b >= T / 2))
        wrong.push(`${s}: marks ${marked} vs ${d.marks[s]}`);
      if (Math.abs(d.y[s]! - sum) > 1e-6) wrong.push(`${s}: y ${d.y[s]} vs ${sum}`);
    }
    expect(wrong).toEqual([]);
    // Var(U + U) = 2/12 for independent U(0, 1): the mean predictor's MSE (SE of the estimate ≈ 0.005).
    expect(Math.abs(meanPredictorMse(d.y) - 1 / 6)).toBeLessThan(0.02);
    // Seeded: the same data again, other data for another seed.
    expect(addingProblem(3, T, 7).x).toEqual(addingProblem(3, T, 7).x);
    expect(addingProblem(3, T, 8).x).not.toEqual(addingProblem(3, T, 7).x);
  });
});

describe('pnpm demo --size tiny --no-serve', () => {
  it('says what it trained and where', () => {
    expect(output.stderr).toContain(`gradscope demo: ${expectedRuns.length} runs into ${db}`);
    expect(output.stderr).toMatch(/tiny size: See RNN examples: 4 samples × 6 timesteps/);
    expect(output.stderr).toMatch(/memory set: adding problem, 10 timesteps/);
    expect(output.stderr).toMatch(/trained 9 runs in \d+ s, \d+ snapshots/);
    // What it trained, one line per run, with the final probe loss as stored.
    for (const run of reader.listRuns()) {
      const findings = run.meta.findings as RunFindings;
      const last = findings.probeLoss.at(-1)!;
      const line = output.stderr.split('\n').find((l) => l.trim().startsWith(`${run.name} `));
      expect(line, run.name).toContain(`→ ${fmt(last.value)} @${last.iteration}`);
    }
  });

  it('stores one finished run per example group, each layer at iterations 20, 200 and 400', () => {
    const runs = reader.listRuns();
    expect(runs.map((r) => r.name).sort()).toEqual(expectedRuns.map((r) => r.name).sort());
    for (const run of runs.filter((r) => seedRunNames.includes(r.name))) {
      expect(run.status).toBe('finished');
      expect(run.lastIteration).toBe(400);
      const layers = reader.listLayers(run.id);
      expect(layers).toHaveLength(2);
      for (const layer of layers) {
        const held = reader.listSnapshots({ run: run.id, layer: layer.layer, iterations: [20, 200, 400] });
        expect([...new Set(held.map((s) => s.iteration))]).toEqual([20, 200, 400]);
        expect(layer.lastIteration).toBe(400);
        expect(layer.kinds['output-grad']).toBeDefined();
      }
    }
  });

  it('records finite gradients that reach back from the last timestep', () => {
    const run = reader.getRun('ex1-lstm3')!;
    const [first] = reader.listLayers(run.id);
    const [snap] = reader.listSnapshots({
      run: run.id,
      layer: first!.layer,
      kind: 'output-grad',
      iterations: [200],
    });
    expect(snap!.shape).toEqual([4, 6, 3]);
    const { data } = reader.readTensor(snap!.id);
    expect(data.every(Number.isFinite)).toBe(true);
    expect(snap!.nonFinite).toBe(0);
    const summary = reader.getSummary(snap!.id)!;
    // The gradient of a last-step loss is largest at the last timestep.
    const norms = Array.from(summary.timestepNorms!);
    expect(norms[norms.length - 1]).toBe(Math.max(...norms));
    expect(norms[norms.length - 1]).toBeGreaterThan(0);
  });

  it('keeps the bidirectional halves and the per-gate weights', () => {
    const bigru = reader.getRun('ex5-bigru4')!;
    const bidi = reader.listLayers(bigru.id).find((l) => l.layerClass === 'Bidirectional')!;
    expect(bidi.channelParts).toEqual(['forward', 'backward']);
    const weights = reader.getRun('ex9-bilstm2-weights')!;
    const parts = reader.listLayers(weights.id).find((l) => l.layerClass === 'Bidirectional')!.kinds.weight!;
    expect(parts).toContain('forward/kernel/i');
    expect(parts).toContain('backward/recurrent_kernel/o');
  });

  it('trains the memory set: input gradients for every cell, the best gated cell learns', () => {
    const m = SIZES.tiny.memory;
    const probeLoss: Record<string, { first: number; last: number }> = {};
    for (const name of MEMORY_RUNS) {
      const run = reader.getRun(name)!;
      expect(run.status).toBe('finished');
      expect(run.lastIteration).toBe(m.iterations);
      const [layer, ...rest] = reader.listLayers(run.id);
      expect(rest).toEqual([]);
      expect(Object.keys(layer!.kinds).sort()).toEqual(['input-grad', 'jacobian', 'output-grad']);
      expect([layer!.firstIteration, layer!.lastIteration, layer!.iterationCount]).toEqual([20, 200, 5]);
      const snaps = reader.listSnapshots({ run: run.id, layer: layer!.layer, kind: 'input-grad' });
      expect(snaps.map((s) => s.iteration)).toEqual([20, 50, 100, 150, 200]);
      for (const s of snaps) {
        expect(s.shape).toEqual([m.probe, m.timesteps, 2]);
        expect(s.dims).toEqual(['sample', 'timestep', 'channel']);
        const { data } = reader.readTensor(s.id);
        expect(data.length).toBe(m.probe * m.timesteps * 2);
        expect(data.every(Number.isFinite)).toBe(true);
        expect(s.nonFinite).toBe(0);
        expect(s.summary.l2).toBeGreaterThan(0);
      }
      probeLoss[name] = { first: snaps[0]!.loss, last: snaps.at(-1)!.loss };
      // The mean predictor's MSE of the run's probe, as stored, is the variance of U + U.
      const mse = (run.meta.task as { meanPredictorMse: number }).meanPredictorMse;
      expect(Math.abs(mse - 1 / 6)).toBeLessThan(0.06);
    }
    const gated = ['memory-lstm', 'memory-gru'] as const;
    const best = gated.reduce((a, b) => (probeLoss[a]!.last <= probeLoss[b]!.last ? a : b));
    expect(probeLoss[best]!.last).toBeLessThan(0.5 * probeLoss[best]!.first);
  });

  it("writes gallery text whose numbers are the store's, and links the memory set to the compare page", () => {
    for (const run of reader.listRuns()) {
      const gallery = run.meta.gallery as (GalleryEntry & { explain: string; findings: string[] })[];
      const findings = run.meta.findings as RunFindings;
      // Findings as measured from the snapshots: probe loss per captured iteration.
      const layer = run.layers[0]!;
      const byIteration = new Map<number, number>();
      for (const s of reader.listSnapshots({ run: run.id, layer }))
        if (!byIteration.has(s.iteration)) byIteration.set(s.iteration, s.loss);
      expect(findings.probeLoss).toEqual(
        [...byIteration].map(([iteration, value]) => ({ iteration, value })),
      );
      for (const entry of gallery) {
        expect(entry.findings.length).toBeGreaterThan(0);
        expect(entry.lookFor).toBe([entry.explain, ...entry.findings].join(' '));
      }
      if (seedRunNames.includes(run.name))
        for (const entry of gallery) expect(entry.explain).toContain('cannot be learned');
    }
    // EX3's horizons are the stored ones at 20, 200 and 400.
    const ex1 = reader.getRun('ex1-lstm3')!;
    const ex3 = (ex1.meta.gallery as (GalleryEntry & { findings: string[] })[]).find((e) => e.id === 'EX3')!;
    const horizons = [20, 200, 400].map(
      (it) =>
        reader.listSnapshots({
          run: ex1.id,
          layer: ex1.layers[0]!,
          kind: 'output-grad',
          iterations: [it],
        })[0]!.summary.horizon,
    );
    expect(ex3.findings[0]).toContain(
      `timestep ${horizons[0]} at iteration 20, ${horizons[1]} at 200, ${horizons[2]} at 400`,
    );
    // The memory entry opens the compare page and states each run's loss as stored.
    const lstm = reader.getRun('memory-lstm')!;
    const mem = (lstm.meta.gallery as (GalleryEntry & { findings: string[] })[]).find((e) => e.id === 'MEM')!;
    expect(mem.href).toBe('#/compare?runs=memory-lstm,memory-gru,memory-simplernn&kind=input-grad');
    for (const name of MEMORY_RUNS) {
      const f = reader.getRun(name)!.meta.findings as RunFindings;
      const first = f.probeLoss[0]!.value;
      const last = f.probeLoss.at(-1)!.value;
      expect(mem.findings[0]).toContain(`probe MSE ${fmt(first)} → ${fmt(last)}`);
      expect(f.inputGrad!.iteration).toBe(SIZES.tiny.memory.iterations);
      expect(f.inputGrad!.firstHalfPeak).toBeGreaterThan(0);
      expect(f.inputGrad!.firstHalfPeak).toBeLessThanOrEqual(1);
    }
  });

  it('carries the gallery entries, naming real layers', () => {
    for (const run of reader.listRuns()) {
      const gallery = run.meta.gallery as GalleryEntry[];
      expect(gallery.length).toBeGreaterThan(0);
      for (const entry of gallery) expect(run.layers).toContain(entry.view.layer);
    }
  });
});

describe('gradscope copy of the demo store', () => {
  it('into PostgreSQL and back into a file: every tensor byte for byte, runs, summaries and scalars equal', async () => {
    const url = await createDatabase(inject('postgresUrl'), 'demo');
    const back = join(dir, 'back.gradscope');
    for (const [from, to] of [
      [db, url],
      [url, back],
    ]) {
      const r = spawnSync(process.execPath, [CLI, 'copy', from!, to!], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`copied ${expectedRuns.length} runs into`);
    }
    const readers = [db, url, back].map((t) => openRunReader(t));
    try {
      const [want, ...copies] = await Promise.all(readers.map((r) => storeContents(r)));
      const tensors = Object.entries(want!).filter(([k]) => k.startsWith('tensors '));
      expect(tensors).toHaveLength(expectedRuns.length);
      expect(tensors.reduce((n, [, t]) => n + (t as string[]).length, 0)).toBeGreaterThan(100);
      for (const got of copies) {
        expect(Object.keys(got!)).toEqual(Object.keys(want!));
        for (const [k, v] of Object.entries(want!)) expect(got![k], k).toEqual(v);
      }
    } finally {
      for (const r of readers) await r.close();
    }
  }, 600_000);
});

describe('serving while training, and Ctrl-C', () => {
  it('serves the store from the start; Ctrl-C stops training after the current step, the store intact', {
    timeout: 300_000,
  }, async () => {
    const stopped = join(dir, 'stopped.gradscope');
    const args = [DEMO, '--size', 'tiny', '--set', 'memory', '--port', '0', '--db', stopped];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const until = (pattern: RegExp) =>
      new Promise<RegExpMatchArray>((resolve) => {
        const check = () => {
          const m = (stderr + stdout).match(pattern);
          if (m) resolve(m);
        };
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          check();
        });
        child.stdout.on('data', check);
        check();
      });
    const [, url] = await until(/viewer: (http:\/\/127\.0\.0\.1:\d+)\/#\/gallery \(live while training\)/);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    // Progress lines come every 10% when stderr is not a terminal.
    await until(/demo: \d+\/600 iterations, [1-9]\d* snapshots/);
    const live = (await (await fetch(`${url}/api/runs`)).json()) as { snapshots: number }[];
    expect(live.reduce((a, r) => a + r.snapshots, 0)).toBeGreaterThan(0);
    child.kill('SIGINT');
    await until(/serving the gallery at/);
    expect(stderr).toContain('stopping after the current step');
    expect(stderr).toMatch(/stopped 3 runs in \d+ s, \d+ snapshots/);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const r = openReader(stopped);
    try {
      expect(r.integrityCheck()).toBe('ok');
      const runs = r.listRuns();
      expect(runs.length).toBeGreaterThan(0);
      expect(runs.every((run) => (run.lastIteration ?? 0) < SIZES.tiny.memory.iterations)).toBe(true);
      // A stopped run's text is measured on what it recorded: its last probe loss is its last snapshot's.
      for (const run of runs.filter((x) => x.snapshots > 0)) {
        const findings = run.meta.findings as RunFindings;
        expect(findings.probeLoss.at(-1)!.iteration).toBe(run.lastIteration);
      }
      const some = r.listSnapshots({ run: runs.find((run) => run.snapshots > 0)!.id, limit: 1 })[0]!;
      expect(r.readTensor(some.id).data.length).toBe(some.shape.reduce((a, b) => a * b, 1));
    } finally {
      r.close();
    }
  });
});

describe('the gallery in headless Chromium', () => {
  it('opens the gallery and every example view with non-blank figures', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const server = await buildServer({ db, port: 0, ingest: false, viewerDir });
    const browser = await launchChromium(chromium);
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}/#/gallery`);
      const examples = page.locator('a.example-link');
      await examples.first().waitFor();
      const links = await examples.evaluateAll((as) =>
        as.map((a): [string, string] => [a.textContent ?? '', (a as HTMLAnchorElement).href]),
      );
      expect(links.map(([text]) => text.split(' ')[0])).toEqual(
        expect.arrayContaining([
          'EX1',
          'EX2',
          'EX3',
          'EX4',
          'EX5',
          'EX6',
          'EX7a',
          'EX7b',
          'EX7c',
          'EX8',
          'EX9',
          'MEM',
          'MEMa',
          'MEMb',
          'MEMc',
        ]),
      );
      await page.screenshot({ path: join(ARTIFACTS, 'gallery.png'), fullPage: true });
      for (const [text, href] of links) {
        const id = text.split(' ')[0]!;
        await page.goto(href!);
        await page.waitForFunction(
          () => (window as unknown as { __gradscope?: { ready: boolean } }).__gradscope?.ready === true,
        );
        const canvases = await page.locator('main canvas').evaluateAll((cs) =>
          cs.map((c) => {
            const canvas = c as HTMLCanvasElement;
            const ctx = canvas.getContext('2d');
            if (!ctx || canvas.width === 0 || canvas.height === 0) return false;
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 0; i < pixels.length; i += 4)
              if (pixels[i + 3] !== 0 && pixels[i] !== pixels[0]) return true;
            return false;
          }),
        );
        expect(canvases.length, `${id}: figures drawn`).toBeGreaterThan(0);
        expect(canvases.some(Boolean), `${id}: a non-blank figure`).toBe(true);
        await page.screenshot({ path: join(ARTIFACTS, `${id}.png`), fullPage: true });
      }
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
