// Server: tensor route throughput against @fastify/static serving the same bytes, and p99 latency of the
// flow and index routes at 32 concurrent connections over 10,000 snapshots (load from a second process).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { buildServer } from '../../packages/server/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { load } from './lib/load.mjs';

const RUN = {
  id: 'bench',
  name: 'bench',
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm'] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'bench',
};

function snapshot(iteration, shape, fill, layer = 'lstm') {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + iteration) * fill;
  return {
    run: RUN.id,
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
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
