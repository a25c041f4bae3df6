// The demo end to end: the real CLI trains the gallery at the tiny size into a real store; the store
// holds every example's run with iterations 20/200/400; then the viewer opens the gallery and each
// example's view in headless Chromium (screenshots kept in artifacts/).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildServer } from '@gradscope/server';
import { openReader, type Reader } from '@gradscope/store';
import { viewerDir } from '@gradscope/viewer';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../scripts/chromium.mjs';
import { demoRuns, type GalleryEntry, SIZES } from './demo/examples.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'dist', 'main.js');
const ARTIFACTS = join(here, '..', '..', '..', 'artifacts', 'demo');

let dir: string;
let db: string;
let reader: Reader;
let output: { stdout: string; stderr: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-demo-'));
  db = join(dir, 'demo.gradscope');
  output = await promisify(execFile)(
    process.execPath,
    [CLI, 'demo', '--size', 'tiny', '--no-serve', '--db', db],
    {
      timeout: 600_000,
    },
  );
  reader = openReader(db);
}, 600_000);

afterAll(() => {
  reader?.close();
  rmSync(dir, { recursive: true, force: true });
});

const expectedRuns = demoRuns(SIZES.tiny);

describe('gradscope demo --size tiny --no-serve', () => {
  it('says what it trained and where', () => {
    expect(output.stderr).toContain(`gradscope demo: ${expectedRuns.length} runs into ${db}`);
    expect(output.stderr).toMatch(/tiny size: 4 samples × 6 timesteps/);
    expect(output.stderr).toMatch(/trained 6 runs in \d+ s, \d+ snapshots/);
  });

  it('stores one finished run per example group, each layer at iterations 20, 200 and 400', () => {
    const runs = reader.listRuns();
    expect(runs.map((r) => r.name).sort()).toEqual(expectedRuns.map((r) => r.name).sort());
    for (const run of runs) {
      expect(run.status).toBe('finished');
      expect(run.lastIteration).toBe(400);
      const layers = reader.listLayers(run.id);
      expect(layers).toHaveLength(2);
      for (const layer of layers) {
        for (const it of [20, 200, 400]) expect(layer.iterations).toContain(it);
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

  it('carries the gallery entries, naming real layers', () => {
    for (const run of reader.listRuns()) {
      const gallery = run.meta.gallery as GalleryEntry[];
      expect(gallery.length).toBeGreaterThan(0);
      for (const entry of gallery) expect(run.layers).toContain(entry.view.layer);
    }
  });
});

describe('serving while training, and Ctrl-C', () => {
  it('serves the store from the start; Ctrl-C stops training after the current step, the store intact', async () => {
    const stopped = join(dir, 'stopped.gradscope');
    const child = spawn(process.execPath, [CLI, 'demo', '--size', 'tiny', '--port', '0', '--db', stopped], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    await until(/demo: \d+\/2400 iterations, [1-9]\d* snapshots/);
    const live = (await (await fetch(`${url}/api/runs`)).json()) as { snapshots: number }[];
    expect(live.reduce((a, r) => a + r.snapshots, 0)).toBeGreaterThan(0);
    child.kill('SIGINT');
    await until(/serving the gallery at/);
    expect(stderr).toContain('stopping after the current step');
    expect(stderr).toMatch(/stopped 6 runs in \d+ s, \d+ snapshots/);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const r = openReader(stopped);
    try {
      expect(r.integrityCheck()).toBe('ok');
      const runs = r.listRuns();
      expect(runs.length).toBeGreaterThan(0);
      expect(runs.every((run) => (run.lastIteration ?? 0) < 400)).toBe(true);
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
