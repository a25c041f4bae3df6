// Viewer: time from data arrival to the painted compare view of three 256-channel × 500-timestep heatmaps, and
// to the painted weights page of a Bidirectional LSTM-256 (24 gate tensors × 3 iterations), in headless Chromium
// as the page reports it (window.__gradscope.lastPaintMs); and the bytes a cold load of the page transfers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { viewerDir } from '../../apps/viewer/index.js';
import { buildServer } from '../../packages/server/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { launchChromium } from '../chromium.mjs';
import { median } from './lib/numbers.mjs';

export async function run({ quick = false, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-viewer-'));
  const [T, C] = [500, 256];
  try {
    const db = join(dir, 'runs.gradscope');
    const store = openStore(db);
    await store.startRun({
      id: 'paint',
      name: 'paint',
      startedAt: Date.now(),
      model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
      options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm_256'] },
      backend: 'cpu',
      tfjsVersion: '4.22.0',
      host: 'bench',
    });
    for (const iteration of [20, 200, 400]) {
      const data = new Float32Array(T * C);
      for (let t = 0; t < T; t++)
        for (let c = 0; c < C; c++) data[t * C + c] = Math.sin(c + iteration) * 2 ** ((t - T) / 50);
      await store.write({
        run: 'paint',
        iteration,
        epoch: 0,
        batch: 0,
        layer: 'lstm_256',
        layerClass: 'LSTM',
        kind: 'output-grad',
        shape: [1, T, C],
        dims: ['sample', 'timestep', 'channel'],
        data,
        loss: 1,
        time: Date.now(),
        nonFinite: 0,
      });
    }
    await writeBidirectional(store);
    await store.close();
    const server = await buildServer({ db, port: 0, ingest: false, viewerDir });
    const browser = await launchChromium(chromium);
    const times = [];
    const weights = [];
    let cold = { total: 0, assets: 0, requests: 0, encoding: '' };
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      const url = `${server.url}/#/run?run=paint&layer=lstm_256&view=2d&it=20,200,400`;
      const reps = quick ? 3 : 9;
      for (let i = 0; i <= reps; i++) {
        await page.goto('about:blank');
        await page.goto(url);
        await page.waitForFunction(
          () => window.__gradscope?.ready === true && window.__gradscope.panels >= 3,
        );
        const ms = await page.evaluate(() => window.__gradscope.lastPaintMs);
        if (i > 0) times.push(ms); // the first load also compiles the page's code
      }
      const weightsUrl = `${server.url}/#/run?run=bi256&layer=bidirectional_256&kind=weight&view=weights&it=20,200,400`;
      for (let i = 0; i <= reps; i++) {
        await page.goto('about:blank');
        await page.goto(weightsUrl);
        await page.waitForFunction(
          () => window.__gradscope?.ready === true && window.__gradscope.panels >= 18,
          null,
          { timeout: 60_000 },
        );
        const ms = await page.evaluate(() => window.__gradscope.lastPaintMs);
        if (i > 0) weights.push(ms);
      }
      cold = await coldBytes(browser, server.url);
    } finally {
      await browser.close();
      await server.close();
    }
    log(`paint ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
    log(`weights paint ${weights.map((t) => t.toFixed(0)).join(', ')} ms`);
    log(
      `cold load ${cold.total} bytes (${cold.assets} of them the page's assets, ${cold.encoding || 'uncompressed'})`,
    );
    return [
      {
        suite: 'viewer',
        metric: 'data arrival → painted compare view, 3 heatmaps 256×500',
        value: median(times),
        unit: 'ms',
        aim: '≤ 150',
        note: `median of ${times.length} page loads in headless Chromium (software rendering); max ${Math.max(...times).toFixed(0)} ms`,
      },
      {
        suite: 'viewer',
        metric:
          'data arrival → painted weights page, Bidirectional LSTM-256 (3 weights × 4 gates × 2 directions × 3 iterations)',
        value: median(weights),
        unit: 'ms',
        aim: '≤ 150',
        note: `median of ${weights.length} page loads; max ${Math.max(...weights).toFixed(0)} ms`,
      },
      {
        suite: 'viewer',
        metric: 'bytes a cold load of the gallery transfers (HTML, JS, CSS, API)',
        value: cold.total,
        unit: 'bytes',
        note: `${cold.assets} bytes of page assets over ${cold.requests} requests, content-encoding ${cold.encoding || 'none'}`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Bidirectional LSTM-256's weights (kernel 32 × 256, recurrent kernel 256 × 256, bias 256; 4 gates each) at 3 iterations. */
async function writeBidirectional(store) {
  await store.startRun({
    id: 'bi256',
    name: 'bi256',
    startedAt: Date.now(),
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['weight'], layers: ['bidirectional_256'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'bench',
  });
  const U = 256;
  for (const iteration of [20, 200, 400])
    for (const direction of ['forward', 'backward'])
      for (const [weight, rows] of [
        ['kernel', 32],
        ['recurrent_kernel', U],
        ['bias', 0],
      ])
        for (const [g, gate] of [...'ifco'].entries()) {
          const n = (rows || 1) * U;
          const data = new Float32Array(n);
          for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.013 + g + iteration) * 0.05;
          await store.write({
            run: 'bi256',
            iteration,
            epoch: 0,
            batch: 0,
            layer: 'bidirectional_256',
            layerClass: 'Bidirectional',
            kind: 'weight',
            part: `${direction}/${weight}/${gate}`,
            shape: rows ? [rows, U] : [U],
            dims: rows ? ['input', 'unit'] : ['unit'],
            data,
            loss: 1,
            time: Date.now(),
            nonFinite: 0,
          });
        }
}

/** Bytes on the wire for a first visit with an empty cache (a fresh browser context), by response. */
async function coldBytes(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const sizes = new Map();
  const urls = new Map();
  let encoding = '';
  cdp.on('Network.responseReceived', (e) => {
    urls.set(e.requestId, e.response.url);
    const enc = e.response.headers['content-encoding'] ?? e.response.headers['Content-Encoding'];
    if (enc && /\.(js|css)$/.test(new URL(e.response.url).pathname)) encoding = enc;
  });
  cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(`${url}/#/gallery`);
  await page.waitForFunction(() => window.__gradscope?.ready === true);
  await page.waitForLoadState('networkidle');
  let total = 0;
  let assets = 0;
  for (const [id, bytes] of sizes) {
    total += bytes;
    if (!new URL(urls.get(id) ?? url).pathname.startsWith('/api/')) assets += bytes;
  }
  await context.close();
  return { total, assets, requests: sizes.size, encoding };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
