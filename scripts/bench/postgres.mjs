// The team setup (issue 26): HttpSink trainers logging into 1 server on SQLite, 1 server on PostgreSQL and
// 2 servers on one PostgreSQL (trainers split between them), 8 and 32 trainers at once: snapshots/s and MB/s
// sustained (first request to the last flush), errors, and nothing lost (what the trainers sent = what the
// store holds). Then the read routes (runs, flow, a tensor, scalars) on PostgreSQL ÷ on SQLite, uncached, over
// the same ingested data. Servers run in child processes; the trainers (HttpSink, as a training script uses
// it) in this one. The PostgreSQL cluster is the bench's own, with fsync on, as a real one is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpSink } from '../../packages/capture/dist/http-sink.js';
import { openRunReader, openStore } from '../../packages/store/dist/index.js';
import { startCluster } from '../postgres.mjs';
import { createDatabase } from '../test-stores.mjs';
import { interleaved } from './lib/load.mjs';
import { childServer, RUN, snapshot } from './server.mjs';

/** One snapshot: 16 samples × 50 timesteps × 32 channels, float32 (100 KiB), as a mid-sized probe. */
const SHAPE = [16, 50, 32];
const BYTES = SHAPE.reduce((a, b) => a * b, 4);

/** Trainers logging at once, each `per` snapshots and a loss point per snapshot, through `urls` in turn. */
async function ingest(urls, trainers, per, tag) {
  const sinks = Array.from(
    { length: trainers },
    (_, i) => new HttpSink({ url: urls[i % urls.length], maxQueue: 8, retryDelayMs: 100 }),
  );
  const t0 = performance.now();
  await Promise.all(
    sinks.map(async (sink, i) => {
      const id = `${tag}-${i}`;
      await sink.startRun({ ...RUN, id, name: id, startedAt: Date.now() });
      for (let it = 0; it < per; it++) {
        await sink.write(snapshot(it, SHAPE, 1e-3, 'lstm', id));
        if (it % 10 === 9)
          await sink.writeScalars(
            id,
            Array.from({ length: 10 }, (_, k) => ({
              name: 'loss',
              iteration: it - 9 + k,
              value: 1 / (it + k),
              time: Date.now(),
            })),
          );
      }
      await sink.endRun(id, 'finished');
      await sink.flush();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const errors = sinks.reduce((n, s) => n + s.stats().failed + s.stats().failedRequests, 0);
  return { seconds, errors, sent: trainers * per };
}

/** Snapshots the store holds of the runs whose id starts with `tag`. */
async function held(db, tag) {
  const reader = openRunReader(db);
  try {
    return (await reader.listRuns())
      .filter((r) => r.id.startsWith(`${tag}-`))
      .reduce((n, r) => n + r.snapshots, 0);
  } finally {
    await reader.close();
  }
}

export async function run({ quick, log }) {
  const rows = [];
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-pg-'));
  const cluster = await startCluster({ fsync: true });
  const stops = [];
  try {
    const file = join(dir, 'runs.gradscope');
    // The 2-server setup writes into a database of its own on the same cluster, so that the reads below
    // compare stores holding the same runs (the 1-server setups') on SQLite and on PostgreSQL.
    const two = await createDatabase(cluster.url, 'two');
    const setups = [
      { name: '1 server on SQLite', db: file, servers: 1 },
      { name: '1 server on PostgreSQL', db: cluster.url, servers: 1 },
      { name: '2 servers on one PostgreSQL', db: two, servers: 2 },
    ];
    const per = quick ? 8 : 40;
    for (const trainers of [8, 32]) {
      for (const setup of setups) {
        const servers = [];
        for (let i = 0; i < setup.servers; i++) {
          const s = await childServer(dir, { db: setup.db, port: 0 });
          servers.push(s);
        }
        const tag = `t${trainers}-${setup.servers}-${setup.db === file ? 'sqlite' : 'pg'}`;
        log(`${setup.name}, ${trainers} trainers × ${per} snapshots of ${BYTES / 1024} KiB…`);
        const r = await ingest(
          servers.map((s) => s.url),
          trainers,
          per,
          tag,
        );
        for (const s of servers) await s.stop();
        const stored = await held(setup.db, tag);
        const note = `${trainers} HttpSink trainers × ${per} snapshots of ${BYTES / 1024} KiB; sent ${r.sent}, held ${stored}, errors ${r.errors}`;
        rows.push(
          {
            suite: 'postgres',
            metric: `ingest ${trainers} trainers, ${setup.name}`,
            value: r.sent / r.seconds,
            unit: 'snapshots/s',
            note,
          },
          {
            suite: 'postgres',
            metric: `ingest ${trainers} trainers, ${setup.name} MB/s`,
            value: (r.sent * BYTES) / 2 ** 20 / r.seconds,
            unit: 'MB/s',
            note,
          },
          {
            suite: 'postgres',
            metric: `lost ${trainers} trainers, ${setup.name}`,
            value: r.sent - stored,
            unit: 'snapshots',
            aim: '0',
            note,
          },
        );
        log(
          `  ${(r.sent / r.seconds).toFixed(0)} snapshots/s, errors ${r.errors}, sent ${r.sent}, held ${stored}`,
        );
      }
    }

    // Reads over the same data (the 32-trainer runs), uncached, one server each; and two long series of
    // 4 × 20 × 8 snapshots written straight into both stores: 2,000, whose flow route reads all of them (level
    // 0 of the series chunks), and 50,000, read from level 2 (782 of them).
    const long = quick ? 500 : 2000;
    const huge = quick ? 5000 : 50_000;
    for (const db of [file, cluster.url]) {
      const store = openStore(db, { onWarning: () => {} });
      for (const [id, n] of [
        ['long', long],
        ['huge', huge],
      ]) {
        await store.startRun({ ...RUN, id, name: id, startedAt: Date.now() });
        for (let it = 0; it < n; it++) {
          store.write(snapshot(it, [4, 20, 8], 1e-3, 'lstm', id));
          if (it % 1000 === 999) await store.flush();
        }
      }
      await store.close();
    }
    const sqliteServer = await childServer(dir, { db: file, port: 0, ingest: false, cacheBytes: 0 });
    stops.push(sqliteServer.stop);
    const pgServer = await childServer(dir, { db: cluster.url, port: 0, ingest: false, cacheBytes: 0 });
    stops.push(pgServer.stop);
    const routes = async (base, db, tag) => {
      const reader = openRunReader(db);
      const [s] = await reader.listSnapshots({ run: `${tag}-0`, limit: 1, offset: Math.floor(per / 2) });
      await reader.close();
      const run = encodeURIComponent(`${tag}-0`);
      return {
        runs: `${base}/api/runs`,
        flow: `${base}/api/runs/${run}/flow?layer=lstm&kind=output-grad`,
        tensor: `${base}/api/snapshots/${s.id}/tensor`,
        scalars: `${base}/api/runs/${run}/scalars`,
      };
    };
    const a = await routes(sqliteServer.url, file, 't32-1-sqlite');
    const b = await routes(pgServer.url, cluster.url, 't32-1-pg');
    const n = quick ? 10 : 100;
    for (const id of ['long', 'huge']) {
      a[id] = `${sqliteServer.url}/api/runs/${id}/flow?layer=lstm&kind=output-grad`;
      b[id] = `${pgServer.url}/api/runs/${id}/flow?layer=lstm&kind=output-grad`;
    }
    for (const route of ['runs', 'flow', 'tensor', 'scalars', 'long', 'huge']) {
      const [onSqlite, onPg] = (await interleaved([a[route], b[route]], n)).map((r) => r.median);
      rows.push({
        suite: 'postgres',
        metric:
          route === 'long' || route === 'huge'
            ? `read flow of ${route === 'long' ? long : huge} snapshots: PostgreSQL ÷ SQLite`
            : `read ${route}: PostgreSQL ÷ SQLite`,
        value: onPg / onSqlite,
        unit: '×',
        aim: '≤ 2',
        note: `median of ${n} uncached GETs each, taking turns: ${onPg.toFixed(1)} ms on PostgreSQL, ${onSqlite.toFixed(1)} ms on SQLite`,
      });
      log(`  ${route}: ${onPg.toFixed(1)} ms ÷ ${onSqlite.toFixed(1)} ms`);
    }
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
