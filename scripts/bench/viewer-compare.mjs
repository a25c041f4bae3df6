// Viewer, training charts: time from the arrival of 100,000 steps of loss scalars (as the page asks for them:
// downsampled by the server to a few thousand points, first/last/min/max per bucket) to the painted loss chart
// on the run page, and from data arrival to the painted compare page of three such runs, in headless Chromium
// (window.__gradscope.lossPaintMs / lastPaintMs).
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { viewerDir } from '../../apps/viewer/index.js';
import { buildServer } from '../../packages/server/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { launchChromium } from '../chromium.mjs';
import { median } from './lib/numbers.mjs';

const STEPS = 100_000;
const T = 50;
const C = 16;
const CELLS = [
  ['lstm', 'LSTM'],
  ['gru', 'GRU'],
  ['simple_rnn', 'SimpleRNN'],
];

async function writeRun(store, i) {
  const [layer, className] = CELLS[i];
  const id = `steps-${layer}`;
  await store.startRun({
    id,
    name: id,
    startedAt: Date.now() + i,
    model: {
      name: 'm',
      className: 'Sequential',
      layers: [
        {
          index: 0,
          name: layer,
          className,
          units: C,
          returnSequences: true,
          outputShape: [null, T, C],
          captured: true,
        },
      ],
      inputShape: [[null, T, 2]],
      outputShape: [[null, 1]],
      losses: ['meanSquaredError'],
    },
    options: { mode: 'probe', every: 5000, capture: ['output-grad'], layers: [layer] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'bench',
  });
  // A snapshot every 5,000 steps: the captured iterations the loss chart marks.
  for (let it = 0; it < STEPS; it += 5000) {
    const data = new Float32Array(T * C);
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++)
        data[t * C + c] = Math.sin(c + it) * Math.exp(-(T - 1 - t) / (2 + it / 10_000));
    await store.write({
      run: id,
      iteration: it,
      epoch: 0,
      batch: it,
      layer,
      layerClass: className,
      kind: 'output-grad',
      shape: [1, T, C],
      dims: ['sample', 'timestep', 'channel'],
      data,
      loss: 1,
      time: Date.now(),
      nonFinite: 0,
    });
  }
  // One loss per step, noisy, falling.
  for (let from = 0; from < STEPS; from += 10_000) {
    const points = [];
    for (let it = from; it < from + 10_000; it++)
      points.push({
        iteration: it,
        name: 'loss',
        value: (0.17 * Math.exp(-it / (20_000 * (i + 1))) + 0.002) * (1 + 0.3 * Math.sin(it * 1.3)),
        time: 1_764_379_200_000 + it,
      });
    await store.writeScalars(id, points);
  }
  await store.endRun(id, 'finished');
}

export async function run({ quick = false, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-viewer-compare-'));
  try {
    const db = join(dir, 'runs.gradscope');
    const store = await openStore(db);
    for (let i = 0; i < CELLS.length; i++) await writeRun(store, i);
    await store.close();
    const server = await buildServer({ db, port: 0, ingest: false, viewerDir });
    const browser = await launchChromium(chromium);
    const loss = [];
    const draw = [];
    const compare = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      const reps = quick ? 3 : 9;
      const runUrl = `${server.url}/#/run?run=steps-lstm&layer=lstm&view=flow`;
      for (let i = 0; i <= reps; i++) {
        await page.goto('about:blank');
        await page.goto(runUrl);
        await page.waitForFunction(
          () =>
            window.__gradscope?.ready === true &&
            (window.__gradscope.lossPaintMs > 0 || window.__gradscope.error),
          undefined,
          { timeout: 120_000 },
        );
        const { ms, error } = await page.evaluate(() => ({
          ms: window.__gradscope.lossPaintMs,
          error: window.__gradscope.error,
        }));
        if (error) throw new Error(`the run page failed: ${error}`);
        const drawn = Number(await page.getAttribute('.training .loss-chart', 'data-draw-ms'));
        if (i > 0) {
          // the first load also compiles the page's code
          loss.push(ms);
          draw.push(drawn);
        }
      }
      const compareUrl = `${server.url}/#/compare?runs=${CELLS.map(([l]) => `steps-${l}`).join(',')}`;
      for (let i = 0; i <= reps; i++) {
        await page.goto('about:blank');
        await page.goto(compareUrl);
        await page.waitForFunction(
          () =>
            window.__gradscope?.ready === true &&
            (window.__gradscope.view === 'compare' || window.__gradscope.error),
          undefined,
          { timeout: 120_000 },
        );
        const { ms, error } = await page.evaluate(() => ({
          ms: window.__gradscope.lastPaintMs,
          error: window.__gradscope.error,
        }));
        if (error) throw new Error(`the compare page failed: ${error}`);
        if (i > 0) compare.push(ms);
      }
    } finally {
      await browser.close();
      await server.close();
    }
    log(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    log(
      `loss chart ${loss.map((t) => t.toFixed(1)).join(', ')} ms; compare page ${compare.map((t) => t.toFixed(0)).join(', ')} ms`,
    );
    return [
      {
        suite: 'viewer-compare',
        metric: 'scalars arrival → painted loss chart, 100,000 steps (run page)',
        value: median(loss),
        unit: 'ms',
        aim: '≤ 50',
        note: `median of ${loss.length} page loads in headless Chromium; the page asks for ≤ 3,200 points (server keeps first/last/min/max per bucket), smooths and draws them (that synchronous part: median ${median(draw).toFixed(1)} ms); max ${Math.max(...loss).toFixed(1)} ms; the machine's load average during the run is in the log`,
      },
      {
        suite: 'viewer-compare',
        metric: 'data arrival → painted compare page, 3 runs × 100,000 steps',
        value: median(compare),
        unit: 'ms',
        aim: '',
        note: `loss overlay, 2 horizon charts, norm lines and 3 flow maps of 20 × ${T}; median of ${compare.length} page loads; max ${Math.max(...compare).toFixed(0)} ms`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
