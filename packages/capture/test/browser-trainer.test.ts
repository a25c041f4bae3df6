// A browser trainer end to end: a page bundled by Vite from @tensorflow/tfjs and @gradscope/capture, served
// from one origin, trains a tiny SimpleRNN in headless Chromium and sends its snapshots and scalars through
// HttpSink to a gradscope server on another origin. With `cors: [page origin]` everything arrives in the
// store; against a server that does not allow that origin, nothing does and the sink says so.
// crypto.randomUUID is removed from the page before it runs (it exists only in secure contexts, and
// 127.0.0.1 counts as one), so the run id comes from the callback's fallback.
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { build, createLogger } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../scripts/chromium.mjs';
// Relative imports of the built packages: the server depends on capture, so capture cannot depend on it.
import { buildServer } from '../../server/dist/index.js';
import { openReader } from '../../store/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CAPTURE = join(here, '..');
const TOKEN = 'browser-trainer-token';
const T = 8; // timesteps
const UNITS = 4;
const PROBE = 4; // probe samples
const STEPS = 8; // 16 samples, batches of 4, 2 epochs
const RECORDED = [0, 2, 4, 6, 8]; // at: [0], every: 2

/** The trainer page's module: everything it did ends up in window.__result. */
const MAIN_JS = `
import * as tf from '@tensorflow/tfjs';
import { gradientCallback, HttpSink } from '@gradscope/capture';

async function main() {
  const q = new URLSearchParams(location.search);
  const hasRandomUUID = typeof globalThis.crypto?.randomUUID === 'function';
  await tf.setBackend('cpu');
  await tf.ready();
  const model = tf.sequential({ name: 'browser' });
  model.add(
    tf.layers.simpleRNN({
      name: 'rnn',
      units: ${UNITS},
      returnSequences: true,
      inputShape: [${T}, 2],
      kernelInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 1 }),
      recurrentInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 2 }),
    }),
  );
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ name: 'out', units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) }));
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
  const x = tf.randomNormal([16, ${T}, 2], 0, 1, 'float32', 4);
  const y = tf.randomUniform([16, 1], -1, 1, 'float32', 5);
  const probe = {
    x: tf.randomNormal([${PROBE}, ${T}, 2], 0, 1, 'float32', 6),
    y: tf.randomUniform([${PROBE}, 1], -1, 1, 'float32', 7),
  };
  const errors = [];
  const sink = new HttpSink({
    url: q.get('server'),
    token: q.get('token'),
    attempts: Number(q.get('attempts')),
    retryDelayMs: 50,
    timeoutMs: 20000,
    onError: (e) => errors.push(e.message),
  });
  const callback = gradientCallback({ at: [0], every: 2, probe, capture: ['output-grad'], sink, runName: q.get('run') });
  const losses = [];
  await model.fit(x, y, {
    epochs: 2,
    batchSize: 4,
    shuffle: false,
    callbacks: [callback, new tf.CustomCallback({ onBatchEnd: (_b, logs) => { losses.push(logs.loss); } })],
  });
  let closeError = null;
  try {
    await sink.close();
  } catch (e) {
    closeError = String(e && e.message);
  }
  // The final probe loss computed here in float64 from predict: an independent check of probe/loss.
  const pred = model.predict(probe.x).dataSync();
  const py = probe.y.dataSync();
  let probeLoss = 0;
  for (let i = 0; i < pred.length; i++) probeLoss += (pred[i] - py[i]) ** 2 / pred.length;
  return {
    runId: callback.runId,
    host: location.host,
    isSecureContext: window.isSecureContext,
    hasRandomUUID,
    backend: tf.getBackend(),
    losses,
    probeLoss,
    callbackStats: callback.stats,
    sinkStats: sink.stats(),
    closeError,
    errors,
  };
}

main().then(
  (result) => { window.__result = result; },
  (e) => { window.__result = { failed: String(e && e.stack || e) }; },
);
`;

interface PageResult {
  failed?: string;
  runId: string;
  host: string;
  isSecureContext: boolean;
  hasRandomUUID: boolean;
  backend: string;
  losses: number[];
  probeLoss: number;
  callbackStats: { captures: number; written: number; dropped: number };
  sinkStats: { sent: number; failed: number; failedRequests: number; queued: number };
  closeError: string | null;
  errors: string[];
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** The page's origin: a plain static file server. */
function serveStatic(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path === '/' ? 'index.html' : path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let dir: string;
let pageServer: Server;
let pageOrigin: string;
let browser: Browser;
const buildWarnings: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-browser-trainer-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>\n');
  writeFileSync(join(dir, 'main.js'), MAIN_JS);
  const logger = createLogger('warn');
  logger.warn = (msg) => buildWarnings.push(msg);
  logger.warnOnce = (msg) => buildWarnings.push(msg);
  // The page lives outside the workspace: both packages resolve to the files capture itself uses (one tfjs).
  // NODE_ENV as under `vite build` (vitest sets 'test', which also silences the bundler's warnings).
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      root: dir,
      configFile: false,
      envDir: false,
      publicDir: false,
      customLogger: logger,
      logLevel: 'warn',
      resolve: {
        alias: [
          {
            find: /^@tensorflow\/tfjs$/,
            replacement: join(
              realpathSync(join(CAPTURE, 'node_modules', '@tensorflow', 'tfjs')),
              'dist',
              'index.js',
            ),
          },
          { find: /^@gradscope\/capture$/, replacement: join(CAPTURE, 'dist', 'index.js') },
        ],
      },
      build: {
        outDir: join(dir, 'dist'),
        emptyOutDir: true,
        minify: false,
        reportCompressedSize: false,
        chunkSizeWarningLimit: 1e9,
        // Bundler warnings (a node built-in externalized, an unresolved import) come this way, not through the logger.
        rolldownOptions: {
          onLog: (level, log) => {
            if (level === 'warn') buildWarnings.push(log.message);
          },
        },
      },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  pageServer = await serveStatic(join(dir, 'dist'));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  browser = await launchChromium(chromium);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => pageServer?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens the trainer page against `server` and waits for its result. */
async function train(
  server: string,
  run: string,
  attempts: number,
): Promise<{ result: PageResult; log: string[] }> {
  const page = await browser.newPage();
  const log: string[] = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  // As on a page that is not a secure context: no crypto.randomUUID (getRandomValues stays).
  await page.addInitScript(() => {
    const g = globalThis as unknown as { Crypto: { prototype: { randomUUID?: unknown } } };
    delete g.Crypto.prototype.randomUUID;
  });
  try {
    const query = new URLSearchParams({ server, token: TOKEN, run, attempts: String(attempts) });
    await page.goto(`${pageOrigin}/?${query}`);
    await page.waitForFunction(
      () => (globalThis as { __result?: unknown }).__result !== undefined,
      undefined,
      {
        timeout: 45_000,
      },
    );
    const result = (await page.evaluate(() => (globalThis as { __result?: unknown }).__result)) as PageResult;
    return { result, log };
  } finally {
    await page.close();
  }
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('a browser trainer (Vite bundle in Chromium) sending through HttpSink to another origin', () => {
  it('bundles @gradscope/capture for the browser without node-only imports', () => {
    const ours = buildWarnings.filter((w) => /packages\/|main\.js/.test(w));
    expect(ours).toEqual([]);
  });

  it('delivers every snapshot and scalar to a server whose cors option lists the page origin', async () => {
    const db = join(dir, 'cors.gradscope');
    const server = await buildServer({ db, port: 0, token: TOKEN, cors: [pageOrigin] });
    let page: { result: PageResult; log: string[] };
    try {
      page = await train(server.url, 'browser-cors', 3);
    } finally {
      await server.close();
    }
    const { result, log } = page;
    expect(result.failed, log.join('\n')).toBeUndefined();
    expect(result.backend).toBe('cpu');
    expect(result.host).toBe(new URL(pageOrigin).host);
    // 127.0.0.1 is a secure context (it would have randomUUID): the init script removed it.
    expect(result.isSecureContext).toBe(true);
    expect(result.hasRandomUUID).toBe(false);
    expect(result.runId).toMatch(UUID_V4);
    expect(result.closeError, log.join('\n')).toBeNull();
    expect(result.errors).toEqual([]);
    expect(result.sinkStats).toMatchObject({ failed: 0, failedRequests: 0, queued: 0 });
    // startRun, 5 snapshots, one scalar batch, endRun.
    expect(result.sinkStats.sent).toBe(1 + RECORDED.length + 1 + 1);
    expect(result.callbackStats).toMatchObject({
      captures: RECORDED.length,
      written: RECORDED.length,
      dropped: 0,
    });
    expect(result.losses).toHaveLength(STEPS);

    const reader = openReader(db);
    try {
      const runs = reader.listRuns();
      expect(runs.map((r) => [r.id, r.name, r.status, r.snapshots])).toEqual([
        [result.runId, 'browser-cors', 'finished', RECORDED.length],
      ]);
      expect(runs[0]!.host).toBe(result.host);
      const snapshots = reader.listSnapshots({ run: result.runId });
      expect(snapshots.map((s) => [s.iteration, s.layer, s.kind])).toEqual(
        RECORDED.map((i) => [i, 'rnn', 'output-grad']),
      );
      for (const s of snapshots) {
        expect(s.shape).toEqual([PROBE, T, UNITS]);
        expect(s.nonFinite).toBe(0);
        const { data } = reader.readTensor(s.id);
        expect(data).toHaveLength(PROBE * T * UNITS);
        expect(data.every((v) => Number.isFinite(v))).toBe(true);
        expect(data.some((v) => v !== 0)).toBe(true);
      }
      const scalars = new Map(reader.scalars(result.runId).map((s) => [s.name, s]));
      expect([...scalars.keys()].sort()).toEqual(['loss', 'probe/baseline', 'probe/loss']);
      // The constant predictor's loss, stored once when training began.
      expect([...scalars.get('probe/baseline')!.iterations]).toEqual([0]);
      const loss = scalars.get('loss')!;
      expect([...loss.iterations]).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
      expect([...loss.values]).toEqual(result.losses);
      const probeLoss = scalars.get('probe/loss')!;
      expect([...probeLoss.iterations]).toEqual(RECORDED);
      expect([...probeLoss.values]).toEqual(snapshots.map((s) => s.loss));
      // The last probe loss (after the last step) against the page's own float64 MSE of predict.
      expect(probeLoss.values[RECORDED.length - 1]!).toBeCloseTo(result.probeLoss, 5);
    } finally {
      reader.close();
    }
  });

  it('delivers nothing to a server that does not allow the page origin (CORS is what makes it work)', async () => {
    const db = join(dir, 'no-cors.gradscope');
    // Same port, other host name: exact origins only.
    const server = await buildServer({
      db,
      port: 0,
      token: TOKEN,
      cors: [pageOrigin.replace('127.0.0.1', 'localhost')],
    });
    let page: { result: PageResult; log: string[] };
    try {
      page = await train(server.url, 'browser-no-cors', 1);
    } finally {
      await server.close();
    }
    const { result, log } = page;
    expect(result.failed, log.join('\n')).toBeUndefined();
    expect(result.losses).toHaveLength(STEPS);
    expect(result.sinkStats.sent).toBe(0);
    expect(result.sinkStats.failed).toBe(RECORDED.length);
    expect(result.sinkStats.failedRequests).toBe(1 + RECORDED.length + 1 + 1);
    expect(result.closeError).toMatch(
      /^HttpSink: not stored by http:\/\/127\.0\.0\.1:\d+: .*\(8 requests, 5 snapshots\); the first failed with TypeError: Failed to fetch$/,
    );
    expect(result.errors).toHaveLength(result.sinkStats.failedRequests);
    expect(result.callbackStats).toMatchObject({
      captures: RECORDED.length,
      written: 0,
      dropped: RECORDED.length,
    });
    expect(log.some((l) => /CORS policy/.test(l))).toBe(true);
    const reader = openReader(db);
    try {
      expect(reader.listRuns()).toEqual([]);
    } finally {
      reader.close();
    }
  });
});
