// Store throughput and query latency, each against its floor in the same run:
//   - sustained snapshot writes (8 MB float32 tensors through openStore: copy, summaries, Arrow encoding,
//     SQLite commits) ÷ raw sequential fs.writeSync of the same bytes, and ÷ a bare better-sqlite3 INSERT
//     loop with the same page size / journal / synchronous settings (every variant ends with an fsync:
//     fsyncSync for the raw file, the last commit for SQLite);
//   - one 8 MB tensor read (reader.getTensor) ÷ fs.readFileSync of an 8 MB file;
//   - write throughput of small (16×50×8) snapshots for runs of 1,000 and 20,000, with the queue-full warnings;
//   - flowMatrix / histogramSeries / seriesIndex at 1,000, 10,000 and 50,000 snapshots, downsampled by the
//     provider, and how they grow.
// Run alone: node scripts/bench/store.mjs [--quick]
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSnapshot } from '../../packages/format/dist/index.js';
import { openReader, openStore } from '../../packages/store/dist/index.js';
// Internals, by path: the synchronous writer and the file's settings, for the floors and fast fixtures.
import { JOURNAL_MODE, openWriterDb, PAGE_SIZE } from '../../packages/store/dist/sqlite.js';
import { SnapshotWriter } from '../../packages/store/dist/writer-db.js';
import { prepareSnapshot } from '../../packages/store/dist/writer-sql.js';
import { gradientValues, median } from './lib/numbers.mjs';

const require = createRequire(new URL('../../packages/store/package.json', import.meta.url));
const Database = require('better-sqlite3');

function snapshot(run, iteration, shape, data) {
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind: 'output-grad',
    shape,
    dims: ['sample', 'timestep', 'channel'],
    data,
    loss: 1 / (iteration + 1),
    time: Date.now(),
    nonFinite: 0,
  };
}

/** Snapshots written before the clock starts, by every variant alike (JIT and allocator warm-up). */
const WARM_UP = 2;

function rawWrite(file, buffers) {
  const fd = openSync(file, 'w');
  for (const b of buffers.slice(0, WARM_UP)) writeSync(fd, b);
  const t0 = performance.now();
  for (const b of buffers) writeSync(fd, b);
  fsyncSync(fd);
  closeSync(fd);
  return performance.now() - t0;
}

/** A bare INSERT loop with the store's pragmas; `group` rows per transaction (0: one autocommit each). */
function bareInsert(file, buffers, group = 0) {
  const db = new Database(file);
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma(`journal_mode = ${JOURNAL_MODE}`);
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.exec('CREATE TABLE payloads (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO payloads (data) VALUES (?)');
  const many = db.transaction((bs) => {
    for (const b of bs) insert.run(b);
  });
  for (const b of buffers.slice(0, WARM_UP)) insert.run(b);
  const t0 = performance.now();
  if (group === 0) for (const b of buffers) insert.run(b);
  else for (let i = 0; i < buffers.length; i += group) many(buffers.slice(i, i + group));
  db.close();
  return performance.now() - t0;
}

async function storeWrite(file, shape, arrays) {
  const store = openStore(file, { onWarning: () => {} });
  await store.startRun({
    id: 'bench',
    name: 'bench',
    startedAt: Date.now(),
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm_1'] },
    backend: 'none',
    tfjsVersion: '',
    host: '',
  });
  for (let i = 0; i < WARM_UP; i++) await store.write(snapshot('warm-up', i, shape, arrays[i]));
  await store.flush();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < arrays.length; i++) await store.write(snapshot('bench', i, shape, arrays[i]));
  await store.close();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  // Process CPU time (every thread) per snapshot, from the first timed write() to close() resolved.
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 / arrays.length };
}

/** A database with `count` snapshots of one layer, built through the synchronous writer (fast to make). */
function flowDb(file, count, shape) {
  const { db } = openWriterDb(file);
  const writer = new SnapshotWriter(db, file);
  const n = shape.reduce((a, b) => a * b);
  for (let start = 0; start < count; start += 250) {
    const ops = [];
    for (let i = start; i < Math.min(count, start + 250); i++) {
      ops.push({
        type: 'write',
        snapshot: prepareSnapshot(snapshot('flow', i, shape, gradientValues(n, i + 1))),
      });
    }
    for (const r of writer.commit(ops)) if (!r.ok) throw r.error;
  }
  writer.close();
}

export async function run({ quick = false, log = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-store-'));
  const rows = [];
  try {
    // --- sustained writes -------------------------------------------------------------------------
    const shape = [16, 500, 256]; // LSTM 256 units × 500 timesteps × 16 samples = 8,192,000 bytes
    const n = shape.reduce((a, b) => a * b);
    const count = quick ? 10 : 40;
    const reps = quick ? 1 : 5;
    const arrays = Array.from({ length: count }, (_, i) => gradientValues(n, i + 1));
    const buffers = arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const mb = (count * n * 4) / 1e6;
    const times = { raw: [], bare: [], store: [] };
    /** Process CPU time (every thread) per 8 MB snapshot written through openStore. */
    const cpuMs = [];
    for (let r = 0; r < reps; r++) {
      // Interleaved so that drift in the machine's I/O hits all three alike; files removed between reps.
      times.raw.push(rawWrite(join(dir, `raw-${r}.bin`), buffers));
      rmSync(join(dir, `raw-${r}.bin`));
      times.bare.push(bareInsert(join(dir, `bare-${r}.db`), buffers));
      rmSync(join(dir, `bare-${r}.db`));
      const written = await storeWrite(join(dir, `store-${r}.gradscope`), shape, arrays);
      times.store.push(written.ms);
      cpuMs.push(written.cpuMs);
      if (r < reps - 1) rmSync(join(dir, `store-${r}.gradscope`));
      log(
        `write rep ${r + 1}/${reps}: raw ${times.raw[r].toFixed(0)} ms, bare ${times.bare[r].toFixed(0)} ms, store ${times.store[r].toFixed(0)} ms`,
      );
    }
    const speed = (t) => mb / (t / 1000);
    const raw = speed(median(times.raw));
    const bare = speed(median(times.bare));
    const ours = speed(median(times.store));
    // This machine's disk throughput drifts a lot between runs: ratios are medians of the per-repetition
    // ratios of neighbouring runs, throughputs medians of the runs.
    const paired = (floor) => median(times.store.map((t, i) => floor[i] / t));
    const what = `${count} snapshots of 16×500×256 float32 (8.2 MB) after ${WARM_UP} warm-up ones; ${reps} interleaved repetitions, median of per-repetition ratios`;
    rows.push({
      suite: 'store',
      metric: 'snapshot write throughput',
      value: ours,
      unit: 'MB/s',
      aim: '',
      note: `${what}; runs ${times.store.map((t) => speed(t).toFixed(0)).join(', ')} MB/s`,
    });
    rows.push({
      suite: 'store',
      metric: 'write CPU time per 8 MB snapshot',
      value: median(cpuMs),
      unit: 'ms',
      aim: 'report',
      note: `process.cpuUsage over all threads (copy, summary, encoding, SQLite, the last commit), first timed write() to close(), median of ${reps}; load average ${loadavg()[0].toFixed(1)}`,
    });
    rows.push({
      suite: 'store',
      metric: 'write throughput ÷ raw fs.writeSync',
      value: paired(times.raw),
      unit: 'ratio',
      aim: 'report',
      note: `median ${ours.toFixed(0)} vs ${raw.toFixed(0)} MB/s (sequential writeSync + fsync); ${what}`,
    });
    rows.push({
      suite: 'store',
      metric: 'write throughput ÷ bare better-sqlite3 insert',
      value: paired(times.bare),
      unit: 'ratio',
      aim: '≥ 0.9',
      note: `median ${ours.toFixed(0)} vs ${bare.toFixed(0)} MB/s (INSERT loop, ${PAGE_SIZE / 1024} KiB pages, ${JOURNAL_MODE} journal, synchronous=NORMAL); ${what}`,
    });

    // --- one 8 MB tensor read -----------------------------------------------------------------------
    // Each read is of a different snapshot (and a different raw file of the same bytes): what opening a
    // snapshot in the viewer costs, with the OS page cache warm for both.
    const reader = openReader(join(dir, `store-${reps - 1}.gradscope`));
    const ids = reader.listSnapshots({ run: 'bench' }).map((s) => s.id);
    const readReps = Math.min(ids.length - 1, quick ? 5 : 15);
    for (let i = 0; i < readReps; i++)
      writeFileSync(join(dir, `tensor-${i}.bin`), reader.getTensor(ids[i + 1]));
    reader.getTensor(ids[0]); // warm-up
    const tRaw = [];
    const tOurs = [];
    for (let r = 0; r < readReps; r++) {
      let t0 = performance.now();
      readFileSync(join(dir, `tensor-${r}.bin`));
      tRaw.push(performance.now() - t0);
      t0 = performance.now();
      reader.getTensor(ids[r + 1]);
      tOurs.push(performance.now() - t0);
    }
    const tDecode = [];
    for (let r = 0; r < readReps; r++) {
      const t0 = performance.now();
      reader.readTensor(ids[r + 1]);
      tDecode.push(performance.now() - t0);
    }
    reader.close();
    rows.push({
      suite: 'store',
      metric: 'read one 8 MB tensor: time ÷ raw readFileSync',
      value: median(tOurs) / median(tRaw),
      unit: 'ratio',
      aim: '≤ 2',
      note: `getTensor ${median(tOurs).toFixed(2)} ms vs readFileSync ${median(tRaw).toFixed(2)} ms, a different snapshot/file each time (warm page cache); readTensor (with Arrow decode, zero-copy) ${median(tDecode).toFixed(2)} ms; medians of ${readReps}`,
    });

    // --- small snapshots: can the writer keep up? --------------------------------------------------
    // 16×50×8 float32 (25.6 KB) through openStore, two ways, each beside its floors on the same payloads:
    //   - flat out: write() as fast as the queue takes them, then close() (the capacity of the writer);
    //   - paced: a trainer producing 5,000 snapshots/s (write() on a schedule, as a callback would): does
    //     the queue stay bounded (no queue-full warning) and how far behind is the writer at the end?
    // Floors: a bare better-sqlite3 INSERT loop of the same Arrow payloads (groups of 256, same pragmas,
    // same journal) and sequential fs.writeSync + fsync of the same bytes.
    const smallShape = [16, 50, 8];
    const smallN = smallShape.reduce((a, b) => a * b);
    const smallData = Array.from({ length: 16 }, (_, i) => gradientValues(smallN, 1000 + i));
    const smallPayloads = smallData.map((d, i) => {
      const ipc = encodeSnapshot(snapshot('small', i, smallShape, d));
      return Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength);
    });
    const PACE = 5000;
    for (const size of quick ? [1000, 5000] : [1000, 20000]) {
      const payloads = Array.from({ length: size }, (_, i) => smallPayloads[i % 16]);
      const reps = quick ? 1 : 3;
      const t = { store: [], bare: [], raw: [], paced: [] };
      const cpu = [];
      const warningCounts = { flat: [], paced: [] };
      const lag = [];
      let maxQueued = 0;
      for (let r = 0; r < reps; r++) {
        // Interleaved, files removed between runs, like the 8 MB suite.
        t.raw.push(rawWrite(join(dir, `small-raw-${size}.bin`), payloads));
        rmSync(join(dir, `small-raw-${size}.bin`));
        t.bare.push(bareInsert(join(dir, `small-bare-${size}.db`), payloads, 256));
        rmSync(join(dir, `small-bare-${size}.db`));
        for (const paced of [false, true]) {
          const file = join(dir, `small-${size}.gradscope`);
          const warnings = [];
          const store = openStore(file, { onWarning: (m) => warnings.push(m) });
          await store.flush(); // the writer threads started
          // CPU time of the whole process (training thread and the writer threads).
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          let lastWrite = t0;
          for (let i = 0; i < size; i++) {
            if (paced) {
              const due = t0 + (i * 1000) / PACE;
              while (performance.now() < due) await new Promise((res) => setImmediate(res));
              if (i % 64 === 0) maxQueued = Math.max(maxQueued, store.stats().queuedBytes);
            }
            await store.write(snapshot('small', i, smallShape, smallData[i % 16]));
          }
          lastWrite = performance.now();
          await store.close();
          const ms = performance.now() - t0;
          const c = process.cpuUsage(c0);
          rmSync(file);
          if (paced) {
            t.paced.push(ms);
            lag.push(performance.now() - lastWrite);
            warningCounts.paced.push(warnings.length);
          } else {
            t.store.push(ms);
            cpu.push((c.user + c.system) / size);
            warningCounts.flat.push(warnings.length);
          }
        }
        log(
          `small snapshots, run of ${size}, rep ${r + 1}/${reps}: store ${t.store[r].toFixed(0)} ms, bare ${t.bare[r].toFixed(0)} ms, raw ${t.raw[r].toFixed(0)} ms; paced at ${PACE}/s: ${t.paced[r].toFixed(0)} ms, ${warningCounts.paced[r]} warnings (load ${loadavg()[0].toFixed(1)})`,
        );
      }
      const rate = (ms) => size / (ms / 1000);
      const pairedSmall = (floor) => median(t.store.map((ms, i) => floor[i] / ms));
      const sizeText = size.toLocaleString('en-US');
      const sum = (xs) => xs.reduce((a, b) => a + b, 0);
      rows.push({
        suite: 'store',
        metric: `write throughput, run of ${sizeText} snapshots of 16×50×8, flat out`,
        value: rate(median(t.store)),
        unit: 'snapshots/s',
        aim: '≥ 5,000',
        note: `write() as fast as the queue accepts, then close() (last commit included); median of ${reps}: runs ${t.store.map((ms) => rate(ms).toFixed(0)).join(', ')}/s; floors on the same payloads: bare better-sqlite3 ${rate(median(t.bare)).toFixed(0)}/s, fs.writeSync + fsync ${rate(median(t.raw)).toFixed(0)}/s; queue-full warnings ${sum(warningCounts.flat)} (a producer faster than the disk fills any queue)`,
      });
      rows.push({
        suite: 'store',
        metric: `write throughput ÷ bare better-sqlite3 insert, run of ${sizeText} snapshots of 16×50×8`,
        value: pairedSmall(t.bare),
        unit: 'ratio',
        aim: '≥ 0.9',
        note: `median of per-repetition ratios; bare: the same Arrow payloads in one table, groups of 256, ${PAGE_SIZE / 1024} KiB pages, ${JOURNAL_MODE} journal, synchronous=NORMAL`,
      });
      rows.push({
        suite: 'store',
        metric: `write throughput ÷ raw fs.writeSync, run of ${sizeText} snapshots of 16×50×8`,
        value: pairedSmall(t.raw),
        unit: 'ratio',
        aim: 'report',
        note: 'median of per-repetition ratios; raw: the payload bytes written in order, then fsync',
      });
      rows.push({
        suite: 'store',
        metric: `queue-full warnings, trainer at ${PACE.toLocaleString('en-US')} snapshots/s, run of ${sizeText}`,
        value: sum(warningCounts.paced),
        unit: 'warnings',
        aim: '0',
        note: `write() on a ${PACE}/s schedule, ${reps} runs; largest queue seen ${(maxQueued / 2 ** 20).toFixed(1)} MiB of the 256 MiB bound; last write() → close() resolved median ${median(lag).toFixed(0)} ms; whole run median ${median(t.paced).toFixed(0)} ms (${(size / PACE) * 1000} ms of schedule)`,
      });
      rows.push({
        suite: 'store',
        metric: `write CPU time per snapshot, run of ${sizeText} snapshots of 16×50×8`,
        value: median(cpu),
        unit: 'µs',
        aim: 'report',
        note: `process.cpuUsage over all threads, flat out, first write() to close() resolved, median of ${reps}; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`,
      });
    }

    // --- reads while a trainer writes ----------------------------------------------------------------
    // The cost of the rollback journal: a read waits while a commit writes its pages, a commit waits for
    // reads in progress. A reader (as `serve` holds it) asks for the flow matrix of the series being
    // written and reads one tensor after every 50 writes of a trainer paced at 1,000 snapshots/s, and the
    // same queries run with the writer idle.
    {
      const file = join(dir, 'concurrent.gradscope');
      const store = openStore(file, { onWarning: () => {} });
      const total = quick ? 1000 : 5000;
      for (let i = 0; i < 200; i++) await store.write(snapshot('small', i, smallShape, smallData[i % 16]));
      await store.flush();
      const reader = openReader(file);
      let k = 0;
      const query = () => {
        const t0 = performance.now();
        reader.flowMatrix({ run: 'small', layer: 'lstm_1', kind: 'output-grad' }, { maxRows: 500 });
        reader.getTensor(1 + (k++ % 200)); // the first 200 snapshots' ids
        return performance.now() - t0;
      };
      const idle = [];
      for (let i = 0; i < 100; i++) idle.push(query());
      const busy = [];
      const t0 = performance.now();
      for (let i = 200; i < 200 + total; i++) {
        const due = t0 + ((i - 200) * 1000) / 1000;
        while (performance.now() < due) await new Promise((res) => setImmediate(res));
        await store.write(snapshot('small', i, smallShape, smallData[i % 16]));
        if (i % 50 === 0) busy.push(query());
      }
      await store.close();
      reader.close();
      rmSync(file);
      const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];
      rows.push({
        suite: 'store',
        metric: 'reader query while a trainer writes 1,000 snapshots/s of 16×50×8, p99',
        value: p99(busy),
        unit: 'ms',
        aim: 'report',
        note: `flowMatrix(maxRows 500) of the series being written + getTensor of one of its snapshots, after every 50 writes: median ${median(busy).toFixed(2)} ms, max ${Math.max(...busy).toFixed(1)} ms over ${busy.length} queries; writer idle: median ${median(idle).toFixed(2)} ms, p99 ${p99(idle).toFixed(2)} ms`,
      });
    }

    // --- flow matrix, histograms, series index ------------------------------------------------------
    // The provider downsamples (maxRows 500, what the flow route asks for) before it copies anything.
    const flowShape = [1, 100, 8];
    const sizes = quick ? [1000, 5000] : [1000, 10000, 50000];
    const flowReps = quick ? 5 : 15;
    const measured = [];
    for (const size of sizes) {
      const file = join(dir, `flow-${size}.gradscope`);
      const t0 = performance.now();
      flowDb(file, size, flowShape);
      log(`flow db with ${size} snapshots built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const r = openReader(file);
      const key = { run: 'flow', layer: 'lstm_1', kind: 'output-grad' };
      const time = (fn) => {
        fn(); // warm-up
        const ts = [];
        for (let i = 0; i < flowReps; i++) {
          const t = performance.now();
          fn();
          ts.push(performance.now() - t);
        }
        return median(ts);
      };
      const flow = time(() => {
        const m = r.flowMatrix(key, { maxRows: 500 });
        if (m.count !== size || m.iterations.length !== Math.min(size, 500) || m.timesteps !== 100)
          throw new Error('flow matrix has the wrong size');
      });
      const hist = time(() => r.histogramSeries(key, { maxRows: 200 }));
      const index = time(() => r.seriesIndex(key, { maxRows: 2000 }));
      r.close();
      rmSync(file);
      measured.push({ size, flow, hist, index });
    }
    const first = measured[0];
    for (const m of measured) {
      const growth = (v, v0) =>
        m === first ? '' : `; ×${(v / v0).toFixed(1)} for ×${m.size / first.size} snapshots`;
      const n = m.size.toLocaleString('en-US');
      rows.push({
        suite: 'store',
        metric: `flowMatrix(maxRows 500), ${n} snapshots`,
        value: m.flow,
        unit: 'ms',
        aim: '≤ 20 at 50,000',
        note: `100 timesteps per row, median of ${flowReps}, SQLite page cache warm${growth(m.flow, first.flow)}`,
      });
      rows.push({
        suite: 'store',
        metric: `histogramSeries(maxRows 200), ${n} snapshots`,
        value: m.hist,
        unit: 'ms',
        aim: 'report',
        note: `129 buckets and 9 percentiles per row, median of ${flowReps}${growth(m.hist, first.hist)}`,
      });
      rows.push({
        suite: 'store',
        metric: `seriesIndex(maxRows 2000), ${n} snapshots`,
        value: m.index,
        unit: 'ms',
        aim: 'report',
        note: `ids, iterations, loss, summaries and horizon as typed arrays, median of ${flowReps}${growth(m.index, first.index)}`,
      });
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
