// Viewer at scale: the run page of one 16×100×32 output-grad series (204.8 KB per snapshot) at 1k, 10k and
// 50k snapshots, in headless Chromium: the time from navigation to painted figures (the figure and the
// training strip, window.__gradscope.readyAt) and the bytes the page transfers with an empty browser cache.
// The run page loads the bounded columnar series index and only the tensors it draws, so neither should
// grow with the run. Every snapshot holds the same payload bytes (the store still summarises each one).
// For development: GRADSCOPE_BENCH_KEEP=DIR keeps the stores in DIR and reuses them on the next run;
// GRADSCOPE_BENCH_SIZES=300,3000 measures other run lengths.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { viewerDir } from '../../apps/viewer/index.js';
import { buildServer } from '../../packages/server/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { launchChromium } from '../chromium.mjs';
import { median } from './lib/numbers.mjs';

const SHAPE = [16, 100, 32];
const LAYER = 'lstm';

const RUN = {
  id: 'scale',
  name: 'scale',
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'probe', capture: ['output-grad'], layers: [LAYER] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'bench',
};

/** One store of `n` snapshots of the series (and a loss per iteration), the same payload in each. */
async function buildStore(db, n, log) {
  const store = openStore(db, { onWarning: (m) => log(`store: ${m}`) });
  await store.startRun(RUN);
  const [S, T, C] = SHAPE;
  const data = new Float32Array(S * T * C);
  // Gradients that fade going back in time: a flow map and a horizon worth drawing.
  for (let s = 0; s < S; s++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) data[(s * T + t) * C + c] = Math.sin(c * 0.7 + s) * 2 ** ((t - T) / 12);
  const t0 = performance.now();
  let points = [];
  for (let i = 1; i <= n; i++) {
    const loss = 1 / Math.sqrt(i);
    await store.write({
      run: RUN.id,
      iteration: i,
      epoch: 0,
      batch: i,
      layer: LAYER,
      layerClass: 'LSTM',
      kind: 'output-grad',
      shape: SHAPE,
      dims: ['sample', 'timestep', 'channel'],
      data,
      loss,
      time: RUN.startedAt + i,
      nonFinite: 0,
    });
    points.push({ iteration: i, name: 'loss', value: loss, time: RUN.startedAt + i });
    if (points.length === 10_000 || i === n) {
      await store.writeScalars(RUN.id, points);
      points = [];
    }
  }
  await store.endRun(RUN.id, 'finished');
  await store.close();
  log(
    `viewer-scale: ${n} snapshots of ${SHAPE.join('×')} written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

/** Opens the run page in a fresh context (empty cache): ms from navigation to ready, and bytes on the wire. */
async function openRunPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  try {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const urls = new Map();
    const sizes = new Map();
    cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
    cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
    await page.goto(url);
    await page.waitForFunction(
      () => window.__gradscope?.ready === true && window.__gradscope.renders >= 1,
      null,
      { timeout: 120_000 },
    );
    const hook = await page.evaluate(() => ({ ...window.__gradscope }));
    if (hook.error) throw new Error(`the run page failed: ${hook.error}`);
    if (hook.panels < 1) throw new Error('the run page drew no panel');
    // Let any response still in flight (there should be none) finish before counting bytes.
    await page.waitForLoadState('networkidle');
    let total = 0;
    let api = 0;
    let tensors = 0;
    const paths = [];
    for (const [id, bytes] of sizes) {
      const path = new URL(urls.get(id) ?? url).pathname;
      total += bytes;
      if (path.startsWith('/api/')) {
        api += bytes;
        paths.push(path);
      }
      if (/^\/api\/snapshots\/\d+\/tensor$/.test(path)) tensors++;
    }
    return {
      ms: hook.readyAt,
      panels: hook.panels,
      paintMs: hook.lastPaintMs,
      total,
      api,
      tensors,
      requests: sizes.size,
      paths,
    };
  } finally {
    await context.close();
  }
}

export async function run({ quick = false, log = () => {} } = {}) {
  const sizes = process.env.GRADSCOPE_BENCH_SIZES
    ? process.env.GRADSCOPE_BENCH_SIZES.split(',').map(Number)
    : quick
      ? [1000, 10_000]
      : [1000, 10_000, 50_000];
  const reps = quick ? 3 : 7;
  const keep = process.env.GRADSCOPE_BENCH_KEEP;
  const results = [];
  const browser = await launchChromium(chromium);
  try {
    for (const n of sizes) {
      const dir = keep ?? mkdtempSync(join(tmpdir(), 'gradscope-bench-viewer-scale-'));
      if (keep) mkdirSync(keep, { recursive: true });
      const db = join(dir, `viewer-scale-${n}.gradscope`);
      try {
        if (!keep || !existsSync(db)) await buildStore(db, n, log);
        // No response cache: every load asks the store (the page's own cost, not a cache hit's).
        const server = await buildServer({ db, port: 0, ingest: false, viewerDir, cacheBytes: 0 });
        const loads = [];
        try {
          // The page as a user opens it ('/'), or by its file name if this server build answers '/' with a 404.
          const page = (await fetch(`${server.url}/`)).ok ? '/' : '/index.html';
          if (page !== '/')
            log(`viewer-scale: GET / is not the viewer on this server build: opening ${page}`);
          const url = `${server.url}${page}#/run?run=scale&layer=${LAYER}`;
          for (let i = 0; i <= reps; i++) {
            const load = await openRunPage(browser, url);
            if (i > 0) loads.push(load); // the first load also warms the server's statements and page cache
          }
        } finally {
          await server.close();
        }
        const ms = loads.map((l) => l.ms);
        const last = loads[loads.length - 1];
        log(
          `viewer-scale ${n}: ${ms.map((t) => t.toFixed(0)).join(', ')} ms; ${last.total} bytes (${last.api} API, ${last.tensors} tensors, ${last.requests} requests, ${last.panels} panels)`,
        );
        log(`viewer-scale ${n}: API requests ${last.paths.join(' ')}`);
        results.push({
          n,
          ms: median(ms),
          max: Math.max(...ms),
          bytes: median(loads.map((l) => l.total)),
          last,
          reps: ms.length,
        });
      } finally {
        if (!keep) rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await browser.close();
  }

  const base = results[0];
  const rows = [];
  for (const r of results) {
    const big = r.n === sizes[sizes.length - 1] && r.n >= 50_000;
    rows.push({
      suite: 'viewer-scale',
      metric: `run page, navigation → painted figures, ${r.n.toLocaleString('en-US')} snapshots of ${SHAPE.join('×')}`,
      value: r.ms,
      unit: 'ms',
      note: `median of ${r.reps} cold page loads (fresh browser context, server response cache off) in headless Chromium; max ${r.max.toFixed(0)} ms; ${r.last.panels} panels, ${r.last.tensors} tensors fetched`,
    });
    rows.push({
      suite: 'viewer-scale',
      metric: `run page, bytes transferred, ${r.n.toLocaleString('en-US')} snapshots`,
      value: r.bytes,
      unit: 'bytes',
      ...(big ? { aim: '≤ 2,000,000' } : {}),
      note: `${r.last.api} of them API responses over ${r.last.requests} requests (HTML, JS, CSS, API, tensors)`,
    });
  }
  for (const r of results.slice(1)) {
    rows.push({
      suite: 'viewer-scale',
      metric: `run page time, ${r.n.toLocaleString('en-US')} ÷ ${base.n.toLocaleString('en-US')} snapshots`,
      value: r.ms / base.ms,
      unit: '×',
      ...(r.n >= 50_000 ? { aim: '≤ 1.5' } : {}),
      note: `${r.ms.toFixed(0)} ms ÷ ${base.ms.toFixed(0)} ms, computed from the rows above`,
    });
    rows.push({
      suite: 'viewer-scale',
      metric: `run page bytes, ${r.n.toLocaleString('en-US')} ÷ ${base.n.toLocaleString('en-US')} snapshots`,
      value: r.bytes / base.bytes,
      unit: '×',
      note: `${r.bytes} ÷ ${base.bytes} bytes, computed from the rows above`,
    });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
