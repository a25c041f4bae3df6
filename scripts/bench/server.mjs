// Server: tensor route throughput against @fastify/static serving the same bytes, p99 latency of the
// flow and index routes at 32 concurrent connections over 10,000 snapshots (load from a second process),
// and how the routes scale: uncached flow, series-index, run-listing and loss-curve latency at 1k / 10k /
// 50k snapshots of one series (a loss point per snapshot, as the capture logs them), and the server's RSS
// after 40 distinct views (the server in a child process of its own).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { buildServer } from '../../packages/server/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { load, sequential } from './lib/load.mjs';

export const RUN = {
  id: 'bench',
  name: 'bench',
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm'] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'bench',
};

/** An output-grad snapshot of `run` whose values are a sine of amplitude `fill` (also the memory bench's). */
export function snapshot(iteration, shape, fill, layer = 'lstm', run = RUN.id) {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + iteration) * fill;
  return {
    run,
    iteration,
    epoch: 0,
    batch: 0,
    layer,
    layerClass: 'LSTM',
    kind: 'output-grad',
    shape,
    dims: ['sample', 'timestep', 'channel'],
    data,
    loss: 1,
    time: Date.now(),
    nonFinite: 0,
  };
}

const SERVER_DIST = new URL('../../packages/server/dist/index.js', import.meta.url).href;

/** A gradscope server in a child process: its URL, its RSS in MB, and a way to stop it. */
export async function childServer(dir, options) {
  const script = join(dir, 'child-server.mjs');
  writeFileSync(
    script,
    `import { buildServer } from ${JSON.stringify(SERVER_DIST)};
const server = await buildServer(${JSON.stringify(options)});
process.send(server.url);
process.on('message', async () => { await server.close(); process.exit(0); });`,
  );
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`child server exited with ${code}`)));
  });
  const rss = () => {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1];
    return Number(kb) / 1024;
  };
  /** VmRSS split into anonymous memory, mapped file pages and shared memory, MB. */
  const breakdown = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const mb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { anon: mb('RssAnon'), file: mb('RssFile'), shmem: mb('RssShmem') };
  };
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.send('stop');
    });
  return { url, rss, breakdown, stop };
}

/** Uncached route latency and server memory at 1k, 10k (and 50k) snapshots of one series. */
async function scale({ quick, log }) {
  const rows = [];
  const shape = [2, 100, 32]; // 100 timesteps × 32 channels: the flow and index routes read summaries, not tensors
  const sizes = quick ? [1000, 10_000] : [1000, 10_000, 50_000];
  const series = 'layer=lstm&kind=output-grad';
  const measured = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-scale-'));
    try {
      const db = join(dir, 'runs.gradscope');
      const store = await openStore(db);
      await store.startRun(RUN);
      const t0 = performance.now();
      const losses = [];
      for (let i = 1; i <= n; i++) {
        await store.write(snapshot(i, shape, 1e-2));
        losses.push({
          iteration: i,
          name: 'loss',
          value: 1 / (1 + i / 100) + 0.01 * Math.sin(i),
          time: Date.now(),
        });
        if (losses.length === 500) await store.writeScalars(RUN.id, losses.splice(0));
      }
      if (losses.length > 0) await store.writeScalars(RUN.id, losses);
      await store.close();
      log(
        `scale: ${n} snapshots of ${shape.join('×')} written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );

      const uncached = await childServer(dir, { db, port: 0, ingest: false, cacheBytes: 0 });
      let flow;
      let index;
      let legacy;
      let listing;
      let scalars;
      try {
        const base = `${uncached.url}/api/runs/bench`;
        flow = await sequential(`${base}/flow?${series}`, 30);
        // As the run page asks (SERIES_ROWS = 1000), so that every size answers the same number of rows.
        index = await sequential(`${base}/series?${series}&max=1000`, 30);
        legacy = await sequential(`${base}/snapshots?${series}`, n >= 50_000 ? 3 : 10);
        // What the run page asks first: the runs, the run and its layers (each derived from the snapshots).
        const lists = [`${uncached.url}/api/runs`, base, `${base}/layers`];
        listing = [];
        for (const url of lists) listing.push(await sequential(url, 30));
        // The loss curve, downsampled as the run page asks (maxPoints from the chart's width).
        scalars = await sequential(`${base}/scalars?maxPoints=3152`, 30);
      } finally {
        await uncached.stop();
      }
      log(
        `scale ${n}: flow ${flow.median.toFixed(1)} ms, series index ${index.median.toFixed(1)} ms (${(index.bytes / 1024).toFixed(0)} KB), JSON index ${legacy.median.toFixed(0)} ms (${(legacy.bytes / 2 ** 20).toFixed(1)} MB), runs/run/layers ${listing.map((l) => l.median.toFixed(1)).join('/')} ms, scalars ${scalars.median.toFixed(1)} ms`,
      );

      const cached = await childServer(dir, { db, port: 0, ingest: false });
      let before;
      let after;
      try {
        before = cached.rss();
        const base = `${cached.url}/api/runs/bench`;
        for (let v = 0; v < 40; v++) {
          // One view: the run, its layers, the series index, flow, histograms and a page of the table, each
          // with parameters of its own so that every view is 6 cache entries.
          for (const path of [
            `${cached.url}/api/runs/bench?v=${v}`,
            `${base}/layers?v=${v}`,
            `${base}/series?${series}&max=${2000 + v}`,
            `${base}/flow?${series}&max=${500 + v}`,
            `${base}/histograms?${series}&max=${200 + v}`,
            `${base}/snapshots?${series}&limit=100&offset=${v * 100}`,
          ]) {
            const res = await fetch(path);
            await res.arrayBuffer();
          }
        }
        after = cached.rss();
      } finally {
        await cached.stop();
      }
      log(`scale ${n}: server RSS ${before.toFixed(0)} MB → ${after.toFixed(0)} MB after 40 views`);
      measured.push({ n, flow, index, legacy, listing, scalars, before, after });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const first = measured[0];
  for (const m of measured) {
    const growth = (a, b) => (a / b).toFixed(2);
    rows.push(
      {
        suite: 'server',
        metric: `flow route uncached median, ${m.n} snapshots`,
        value: m.flow.median,
        unit: 'ms',
        aim: '≤ 20 at 50k',
        note: `p90 ${m.flow.p90.toFixed(1)} ms, ${(m.flow.bytes / 1024).toFixed(0)} KB (500 rows of 100 timesteps); ${growth(m.flow.median, first.flow.median)}× the ${first.n} time`,
      },
      {
        suite: 'server',
        metric: `series index route (columnar) uncached median, ${m.n} snapshots`,
        value: m.index.median,
        unit: 'ms',
        aim: 'report',
        note: `${(m.index.bytes / 1024).toFixed(0)} KB (≤ 1000 rows × 13 float64 columns, base64, as the run page asks); ${growth(m.index.median, first.index.median)}× the ${first.n} time; the JSON index of every row: ${m.legacy.median.toFixed(0)} ms, ${(m.legacy.bytes / 2 ** 20).toFixed(1)} MB`,
      },
      {
        suite: 'server',
        metric: `runs + run + layers routes uncached, sum of medians, ${m.n} snapshots`,
        value: m.listing.reduce((a, l) => a + l.median, 0),
        unit: 'ms',
        aim: 'report',
        note: `${m.listing.map((l) => l.median.toFixed(2)).join(' + ')} ms (GET /api/runs, /api/runs/bench, /layers); ${growth(
          m.listing.reduce((a, l) => a + l.median, 0),
          first.listing.reduce((a, l) => a + l.median, 0),
        )}× the ${first.n} time`,
      },
      {
        suite: 'server',
        metric: `scalars route (loss curve) uncached median, ${m.n} points`,
        value: m.scalars.median,
        unit: 'ms',
        aim: 'report',
        note: `maxPoints 3152 (as the run page asks), ${(m.scalars.bytes / 1024).toFixed(0)} KB; p90 ${m.scalars.p90.toFixed(1)} ms; ${growth(m.scalars.median, first.scalars.median)}× the ${first.n} time (every point is read: linear, ~0.5 µs a point)`,
      },
      {
        suite: 'server',
        metric: `server RSS after 40 distinct views, ${m.n} snapshots`,
        value: m.after,
        unit: 'MB',
        aim: '≤ 300',
        note: `${m.before.toFixed(0)} MB before; 240 distinct URLs (run, layers, series, flow, histograms, a table page per view), response cache bound 8 MiB`,
      },
    );
  }
  return rows;
}

export async function run({ quick = false, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-server-'));
  const rows = [];
  try {
    const db = join(dir, 'runs.gradscope');
    const count = quick ? 1000 : 10_000;
    const store = await openStore(db);
    await store.startRun(RUN);
    const big = snapshot(0, [16, 500, 256], 1e-3, 'lstm_256'); // 8 MB: the LSTM-256 × 500 timesteps × 16 samples
    await store.write(big);
    const small = [4, 100, 8];
    for (let i = 1; i <= count; i++) await store.write(snapshot(i, small, 1e-2));
    await store.close();
    log(`store with ${count + 1} snapshots written`);

    const server = await buildServer({ db, port: 0, ingest: false });
    const bytes = server.reader.getTensor(1);
    const file = join(dir, 'tensor.arrows');
    writeFileSync(file, bytes);
    const peer = Fastify();
    await peer.register(fastifyStatic, { root: dir });
    await peer.listen({ host: '127.0.0.1', port: 0 });
    const peerUrl = `http://127.0.0.1:${peer.server.address().port}`;
    try {
      const duration = quick ? 3 : 10;
      const ours = await load({ url: `${server.url}/api/snapshots/1/tensor`, connections: 4, duration });
      const theirs = await load({ url: `${peerUrl}/tensor.arrows`, connections: 4, duration });
      const mb = (r) => r.bytesPerSecond / 2 ** 20;
      log(`tensor route ${mb(ours).toFixed(0)} MB/s, @fastify/static ${mb(theirs).toFixed(0)} MB/s`);
      rows.push({
        suite: 'server',
        metric: 'tensor route ÷ @fastify/static, same 8 MB',
        value: mb(ours) / mb(theirs),
        unit: 'ratio',
        aim: '≥ 0.8',
        note: `${mb(ours).toFixed(0)} vs ${mb(theirs).toFixed(0)} MB/s, 4 connections, ${duration} s each, loopback`,
      });
      for (const [label, path] of [
        ['flow', '/api/runs/bench/flow?layer=lstm&kind=output-grad'],
        ['index', '/api/runs/bench/snapshots?layer=lstm&kind=output-grad&from=5000&to=5100'],
      ]) {
        const r = await load({ url: server.url + path, connections: 32, duration });
        if (r.errors > 0) throw new Error(`${label} route: ${r.errors} failed requests`);
        log(
          `${label}: p99 ${r.p99.toFixed(1)} ms, median ${r.p50.toFixed(1)} ms, ${r.requestsPerSecond.toFixed(0)} req/s`,
        );
        rows.push({
          suite: 'server',
          metric: `${label} route p99 latency, 32 connections`,
          value: r.p99,
          unit: 'ms',
          aim: '≤ 20',
          note: `${count} snapshots of ${small.join('×')}; median ${r.p50.toFixed(1)} ms, ${Math.round(r.requestsPerSecond)} req/s, ${duration} s, load from a second process`,
        });
      }
    } finally {
      await peer.close();
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rows.push(...(await scale({ quick, log })));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
