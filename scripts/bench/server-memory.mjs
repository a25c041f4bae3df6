// Server memory (issue 23): the RSS of a server (a child process of its own) reading a large run through
// repeated rounds of views, tensors, summaries and exports, and while 16 trainers post 16 MB snapshots at
// once. Full: 10,000 snapshots of 4×100×48 (77 KB each, a ~780 MB file), 3 rounds of 64 views, 3,000 tensors,
// 1,000 summaries and 3 exports. --quick: 2,000 snapshots (~160 MB), 1 round.
// What bounds each part of the RSS is in packages/server/README.md (Memory); each round logs the split into
// anonymous memory, mapped file pages (the node binary and libraries: ~45 MB) and shared memory.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSnapshot } from '../../packages/format/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { childServer, RUN as SERVER_RUN, snapshot as serverSnapshot } from './server.mjs';

/**
 * The same workloads (full size) measured with this script on the code before issue 23's memory work
 * (commit e3a8eaf), for comparison in the notes.
 */
const BEFORE_ISSUE_23 = {
  read: 'before issue 23 (e3a8eaf): 474 MB after 3 rounds, peak 529; at 3a7d376: 371, peak 375',
  ingest: 'before issue 23 (e3a8eaf): peak 764 MB, 666 MB 2 s after; at 3a7d376: peak 549',
};

/** What bounds the parts that grow (packages/server/README.md, Memory). */
const BOUNDS = {
  read: 'bounded by the response cache (8 MiB), the reader page cache (16 MiB, no memory map), batches and row groups of 64K rows',
  ingest:
    'bounded by ingestInflightBytes (64 MiB of bodies), the store copy of each until committed and 64 MiB of its released buffers kept; payload templates keep no values',
};

const RUN = { ...SERVER_RUN, id: 'mem', name: 'mem' };
/** A 1e-2 sine of `shape` for layer `layer` of RUN. */
const snapshot = (iteration, shape, layer = 'lstm') => serverSnapshot(iteration, shape, 1e-2, layer, RUN.id);

/** Samples a child's RSS every 50 ms while `work` runs: the peak and the last value, MB. */
async function sampled(rss, work) {
  let peak = rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const last = rss();
  return { peak: Math.max(peak, last), last };
}

async function drain(url) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

/** `n` GETs, `concurrency` at a time. */
async function pool(n, concurrency, url) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await drain(url(next++));
    }),
  );
}

export async function readWorkload({ quick, log }) {
  const count = quick ? 2000 : 10_000;
  const rounds = quick ? 1 : 3;
  const shape = [4, 100, 48];
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-memory-'));
  try {
    const db = join(dir, 'runs.gradscope');
    const store = await openStore(db);
    await store.startRun(RUN);
    for (let i = 1; i <= count; i++) await store.write(snapshot(i, shape));
    await store.close();
    const fileMB = statSync(db).size / 2 ** 20;
    log(`memory: ${count} snapshots of ${shape.join('×')}, a ${fileMB.toFixed(0)} MB file`);
    const server = await childServer(dir, { db, port: 0, ingest: false });
    const base = `${server.url}/api/runs/mem`;
    const series = 'layer=lstm&kind=output-grad';
    const before = server.rss();
    const after = [];
    let peak = before;
    try {
      for (let round = 0; round < rounds; round++) {
        const r = await sampled(server.rss, async () => {
          for (let v = 0; v < 64; v++) {
            const k = round * 64 + v;
            for (const path of [
              `${server.url}/api/runs/mem?v=${k}`,
              `${base}/layers?v=${k}`,
              `${base}/series?${series}&max=${2000 + k}`,
              `${base}/flow?${series}&max=${500 + k}`,
              `${base}/histograms?${series}&max=${200 + k}`,
              `${base}/snapshots?${series}&limit=100&offset=${(k * 100) % count}`,
            ])
              await drain(path);
          }
          // Tensors and summaries spread over the whole file, 4 requests at a time.
          await pool(
            3000,
            4,
            (i) => `${server.url}/api/snapshots/${1 + ((i * 7919 + round) % count)}/tensor`,
          );
          await pool(
            1000,
            4,
            (i) => `${server.url}/api/snapshots/${1 + ((i * 104_729 + round) % count)}/summary`,
          );
          // The whole series in the tensor layout, a tenth of it in the long layout, and as Parquet.
          const tenth = Array.from({ length: count / 10 }, (_, i) => i * 10 + 1).join(',');
          await drain(`${base}/export?${series}&layout=tensor`);
          await drain(`${base}/export?${series}&layout=long&iterations=${tenth}`);
          await drain(
            `${base}/export?${series}&format=parquet&iterations=${tenth.split(',').slice(0, 100).join(',')}`,
          );
        });
        after.push(r.last);
        peak = Math.max(peak, r.peak);
        const b = server.breakdown();
        log(
          `memory: round ${round + 1}: RSS ${r.last.toFixed(0)} MB (peak ${r.peak.toFixed(0)}; anonymous ${b.anon.toFixed(0)}, file ${b.file.toFixed(0)}, shared ${b.shmem.toFixed(0)})`,
        );
      }
    } finally {
      await server.stop();
    }
    return {
      suite: 'server-memory',
      metric: `server RSS after ${rounds} rounds of reads of a ${count}-snapshot run`,
      value: after.at(-1),
      unit: 'MB',
      aim: '< 300',
      note: `${BEFORE_ISSUE_23.read}; now ${before.toFixed(0)} MB before, after each round ${after.map((a) => a.toFixed(0)).join(', ')}, peak ${peak.toFixed(0)}; a round: 64 views (6 routes), 3,000 tensors and 1,000 summaries (4 at a time), 3 exports (the series as tensors, a tenth long, 100 as Parquet); a ${fileMB.toFixed(0)} MB file; ${BOUNDS.read}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function ingestWorkload({ quick, log }) {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-memory-ingest-'));
  const senders = 16;
  const rounds = quick ? 1 : 2;
  try {
    const db = join(dir, 'runs.gradscope');
    const server = await childServer(dir, { db, port: 0 });
    const before = server.rss();
    let retried = 0;
    try {
      let res = await fetch(`${server.url}/api/ingest/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(RUN),
      });
      if (res.status !== 201) throw new Error(`start run: HTTP ${res.status}`);
      // 16 MB each: 4 × 1000 × 1024 float32.
      const bodies = Array.from({ length: senders }, (_, i) =>
        encodeSnapshot(snapshot(i + 1, [4, 1000, 1024], `lstm_${i}`)),
      );
      const r = await sampled(server.rss, async () => {
        for (let round = 0; round < rounds; round++) {
          await Promise.all(
            bodies.map(async (body, i) => {
              for (;;) {
                res = await fetch(`${server.url}/api/ingest`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
                  body: round === 0 ? body : encodeSnapshot(snapshot(100 + i, [4, 1000, 1024], `lstm_${i}`)),
                });
                await res.arrayBuffer();
                if (res.status === 201) return;
                if (res.status !== 503) throw new Error(`ingest: HTTP ${res.status}`);
                retried++;
                await new Promise((resolve) => setTimeout(resolve, 200));
              }
            }),
          );
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const settled = server.rss();
      log(
        `memory: ingest peak ${r.peak.toFixed(0)} MB, ${r.last.toFixed(0)} after, ${settled.toFixed(0)} 2 s later (${retried} 503s retried)`,
      );
      return {
        suite: 'server-memory',
        metric: `server RSS peak, ${senders} concurrent 16 MB ingests`,
        value: r.peak,
        unit: 'MB',
        aim: '< 400',
        note: `${BEFORE_ISSUE_23.ingest}; now ${before.toFixed(0)} MB before, ${settled.toFixed(0)} MB 2 s after; ${rounds} round(s) of ${senders} snapshots of 16 MB posted at once (${retried} answered 503 and retried); ${BOUNDS.ingest}`,
      };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run({ quick = false, log = () => {} } = {}) {
  return [await readWorkload({ quick, log }), await ingestWorkload({ quick, log })];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
