// The writer thread: the write-time summaries and the SQLite commits of every snapshot, in the order the
// training thread handed them over:
//
//   training thread ──► writer thread (summaries, SQLite commits) ──► acknowledgements to the training thread
//         │                    └─ writeback thread (writeback.worker.ts)
//         └──► summarizer thread: the summaries of large snapshots (summarizer.ts), taken by the writer thread
//
// One thread, not an encoder thread ahead of a database thread: with the summary in WebAssembly SIMD (about
// 15 µs for 16×50×8, 4.6 ms for 8 MB) the second hop cost more than it overlapped: every snapshot crossed two
// message ports and was warmed up by two V8 isolates on two cores. In alternating runs one thread wrote 1,000
// small snapshots 7% faster (median of four), 20,000 as fast, and 8 MB ones 4% slower (306 against 318 MB/s,
// still above a bare better-sqlite3 insert loop, which waits for every fsync). The writeback thread lets the
// disk write a commit's pages while the commit is still being built. Acknowledgements come back in the order
// the writes were accepted. Each commit leaves the file complete (rollback journal, see JOURNAL_MODE in
// sqlite.ts): a copy of the file taken between commits holds what was committed.
import { statSync } from 'node:fs';
import { type MessagePort, parentPort, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import { fromSqlite, type SerializedError, StoreError, serializeError } from './errors.js';
import { HEARTBEAT_MS } from './liveness.js';
import type { CompactPolicy, RunTag } from './provider.js';
import { openWriterDb, type WriterDbOptions } from './sqlite.js';
import { Summaries, type SummaryJob, summarizeJob } from './summarizer.js';
import type { RunInfo, ScalarPoint, Snapshot, WrittenRunStatus } from './types.js';
import { openedDescriptor, Writeback, writebackControl } from './writeback.js';
import { type EncodedSnapshot, encodeSnapshot, SnapshotWriter, type WriteOp } from './writer-db.js';

/** Training thread → writer thread. */
export type InMessage =
  | { type: 'write'; seq: number; snapshot: Snapshot; label: string }
  | (SummaryJob & {
      type: 'writeIpc';
      /** Handed to the summarizer thread too: take its summaries (see summarizer.ts). */
      summarized?: true;
    })
  | { type: 'summarizer'; port: MessagePort; control: Int32Array }
  | { type: 'startRun'; seq: number; run: RunInfo }
  | { type: 'endRun'; seq: number; runId: string; status: WrittenRunStatus }
  | { type: 'scalars'; seq: number; runId: string; points: ScalarPoint[] }
  | { type: 'renameRun'; seq: number; run: string; name: string }
  | { type: 'updateRunMeta'; seq: number; run: string; meta: Record<string, unknown> }
  | { type: 'tagRun'; seq: number; run: string; tag: RunTag }
  | { type: 'deleteRun'; seq: number; run: string }
  | { type: 'vacuum'; seq: number }
  | { type: 'compact'; seq: number; policy: CompactPolicy }
  | { type: 'flush'; seq: number }
  | { type: 'close'; seq: number };

/** A message that is an operation (acknowledged by its seq). */
export type OpMessage = Exclude<InMessage, { type: 'summarizer' }>;

/** A message of the training thread with its snapshot summarized: what a commit group is made of. */
type Item =
  | Exclude<InMessage, { type: 'write' | 'writeIpc' | 'summarizer' }>
  | { type: 'encoded'; seq: number; encoded: EncodedSnapshot }
  | { type: 'failed'; seq: number; error: SerializedError };

/** Writer thread → training thread, on the replies port (which the training thread can drain synchronously). */
export type OutMessage =
  | { type: 'ready'; file: string }
  | { type: 'fatal'; error: SerializedError }
  | {
      type: 'acks';
      results: { seq: number; ok: boolean; id?: number; value?: unknown; error?: SerializedError }[];
    };

/**
 * Largest group committed in one transaction, by count and by payload bytes. A commit costs fsyncs of the
 * journal and the file whatever its size, so a writer that fell behind catches up by committing everything
 * that is waiting, up to 32 MiB (it fits the connection's page cache), in one go.
 */
const MAX_GROUP_OPS = 4096;
const MAX_GROUP_BYTES = 32 * 2 ** 20;
/**
 * Snapshots nobody waits for (writes of a store that is not `durable`) are committed at most this often: each commit holds the
 * file's lock while it writes and fsyncs, and reads wait meanwhile, so a trainer writing 1,000 small
 * snapshots/s commits 20 groups a second, not hundreds of small ones. Anything a caller waits for (flush,
 * a durable write, startRun, …) commits at once, with everything before it.
 */
const MIN_COMMIT_INTERVAL_MS = 50;
/**
 * Summarizes a snapshot write (encoding it first unless the training thread did), or takes its summaries
 * from the summarizer thread; other messages pass.
 */
function summarized(msg: OpMessage, summaries: Summaries | undefined): Item {
  if (msg.type !== 'write' && msg.type !== 'writeIpc') return msg;
  if (msg.type === 'write') {
    try {
      return { type: 'encoded', seq: msg.seq, encoded: encodeSnapshot(msg.snapshot, msg.label) };
    } catch (err) {
      return { type: 'failed', seq: msg.seq, error: serializeError(err) };
    }
  }
  // Already encoded by the training thread (its copy of the data): summarized in place, here or there.
  const r = (msg.summarized && summaries?.take(msg.seq)) || summarizeJob(msg);
  if ('error' in r) return { type: 'failed', seq: msg.seq, error: r.error };
  const { meta, shape, dims, ipc, label } = msg;
  return {
    type: 'encoded',
    seq: msg.seq,
    encoded: { meta, shape, dims, ipc, summaries: r.summaries, label },
  };
}

/** Starts the writeback thread on the writer connection's descriptor (see writeback.ts); none without one. */
function startWriteback(fd: number | null): Writeback | undefined {
  if (fd === null) return undefined;
  const control = writebackControl();
  try {
    const worker = new Worker(new URL('./writeback.worker.js', import.meta.url), {
      workerData: { fd, control },
    });
    worker.unref();
    // Writeback only saves time: without the thread, commits wait for their own fsync.
    worker.on('error', () => {});
  } catch {
    return undefined;
  }
  const writeback = new Writeback(control);
  writeback.started(2000);
  return writeback;
}

/** `durable`: every write() waits for its commit, so each batch commits at once (see MIN_COMMIT_INTERVAL_MS). */
function runWriter(path: string, options: WriterDbOptions, durable: boolean, replies: MessagePort): void {
  let writer: SnapshotWriter;
  let writeback: Writeback | undefined;
  try {
    const {
      value: { db, file },
      fd,
    } = openedDescriptor(path, () => openWriterDb(path, options));
    writer = new SnapshotWriter(db, file, options.busyTimeoutMs);
    writeback = startWriteback(fd);
    replies.postMessage({ type: 'ready', file } satisfies OutMessage);
  } catch (err) {
    // Named: a file whose tables cannot be prepared (one was dropped) fails here with SQLite's words alone.
    const error = fromSqlite(err, path, 'opening the database for writing');
    replies.postMessage({ type: 'fatal', error: serializeError(error) } satisfies OutMessage);
    parentPort!.close();
    return;
  }
  let closed = false;
  const beat = setInterval(() => writer.heartbeat(), HEARTBEAT_MS);
  beat.unref();

  // Operations of the group being gathered and their acknowledgements (sent once they are committed).
  let ops: WriteOp[] = [];
  let seqs: number[] = [];
  let pendingBytes = 0;
  let results: Extract<OutMessage, { type: 'acks' }>['results'] = [];
  let summaries: Summaries | undefined;
  let lastCommit = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Sends every acknowledgement gathered so far. */
  const sendAcks = () => {
    if (results.length === 0) return;
    replies.postMessage({ type: 'acks', results } satisfies OutMessage);
    results = [];
  };
  const commit = () => {
    if (ops.length === 0 || closed) return;
    writeback?.begin();
    const res = writer.commit(ops);
    if (writeback?.settle()) {
      // The disk failed a write of this commit's pages, and SQLite's own fsync may not have seen it: none of
      // it is acknowledged, and the store stops (the file keeps what was acknowledged before).
      const error = new StoreError(
        'EIO',
        `${writer.file}: the disk reported a write error while a commit was being written (fdatasync failed): ` +
          'its snapshots may not be on disk, and the store stops; what was acknowledged before is kept',
        { file: writer.file },
      );
      sendAcks(); // earlier commits, whose syncs succeeded
      replies.postMessage({ type: 'fatal', error: serializeError(error) } satisfies OutMessage);
      writeback.stop();
      closed = true;
      ops = [];
      seqs = [];
      parentPort!.close();
      return;
    }
    lastCommit = performance.now();
    res.forEach((r, i) => {
      results.push(
        r.ok
          ? { seq: seqs[i]!, ok: true, ...(r.id !== undefined ? { id: r.id } : {}) }
          : { seq: seqs[i]!, ok: false, error: serializeError(r.error) },
      );
    });
    ops = [];
    seqs = [];
    pendingBytes = 0;
  };
  /** Commits what is gathered and sends every acknowledgement so far. */
  const commitNow = () => {
    clearTimeout(timer);
    timer = undefined;
    commit();
    sendAcks();
  };

  const handle = (first: InMessage[]) => {
    const batch: Item[] = [];
    const add = (msgs: InMessage[]) => {
      for (const msg of msgs) {
        if (msg.type === 'summarizer') {
          summaries = new Summaries(msg.port, msg.control);
          continue;
        }
        const m = summarized(msg, summaries);
        batch.push(m);
        if (m.type === 'encoded') pendingBytes += m.encoded.ipc.byteLength;
      }
    };
    add(first);
    // Group what is already waiting (a writer that fell behind commits several snapshots at once).
    while (ops.length + batch.length < MAX_GROUP_OPS && pendingBytes < MAX_GROUP_BYTES) {
      const last = batch[batch.length - 1];
      if (last && ['flush', 'close', 'vacuum', 'compact'].includes(last.type)) break;
      const next = receiveMessageOnPort(parentPort!);
      if (!next) break;
      add(next.message as InMessage[]);
    }
    // Anything but a snapshot write is awaited by its caller (flush, startRun, …), and so is every write of a
    // durable store.
    const urgent = durable || batch.some((m) => m.type !== 'encoded');
    for (const m of batch) {
      if (closed) {
        results.push({
          seq: m.seq,
          ok: false,
          error: serializeError(new StoreError('ECLOSED', `${writer.file}: the store is closed`)),
        });
        continue;
      }
      switch (m.type) {
        case 'encoded':
          ops.push({ type: 'write', encoded: m.encoded });
          seqs.push(m.seq);
          break;
        case 'startRun':
          ops.push({ type: 'startRun', run: m.run });
          seqs.push(m.seq);
          break;
        case 'endRun':
          ops.push({ type: 'endRun', runId: m.runId, status: m.status });
          seqs.push(m.seq);
          break;
        case 'scalars':
          ops.push({ type: 'scalars', runId: m.runId, points: m.points });
          seqs.push(m.seq);
          break;
        case 'renameRun':
          ops.push({ type: 'renameRun', run: m.run, name: m.name });
          seqs.push(m.seq);
          break;
        case 'updateRunMeta':
          ops.push({ type: 'updateRunMeta', run: m.run, meta: m.meta });
          seqs.push(m.seq);
          break;
        case 'tagRun':
          ops.push({ type: 'tagRun', run: m.run, tag: m.tag });
          seqs.push(m.seq);
          break;
        case 'deleteRun':
          ops.push({ type: 'deleteRun', run: m.run });
          seqs.push(m.seq);
          break;
        case 'vacuum':
        case 'compact':
          commit();
          if (closed) continue; // the commit failed the store (see commit)
          try {
            const value =
              m.type === 'vacuum'
                ? writer.vacuum()
                : writer.compact(m.policy, () => statSync(writer.file).size);
            results.push({ seq: m.seq, ok: true, ...(value === undefined ? {} : { value }) });
          } catch (err) {
            results.push({ seq: m.seq, ok: false, error: serializeError(err) });
          }
          break;
        case 'failed':
          commit();
          results.push({ seq: m.seq, ok: false, error: m.error });
          break;
        case 'flush':
          commit();
          if (closed) continue;
          results.push({ seq: m.seq, ok: true });
          break;
        case 'close':
          commit();
          if (closed) continue;
          closed = true;
          clearInterval(beat);
          writeback?.stop();
          try {
            writer.close();
            results.push({ seq: m.seq, ok: true });
          } catch (err) {
            results.push({ seq: m.seq, ok: false, error: serializeError(err) });
          }
          break;
      }
    }
    const since = performance.now() - lastCommit;
    const full = ops.length >= MAX_GROUP_OPS || pendingBytes >= MAX_GROUP_BYTES;
    if (urgent || closed || full || since >= MIN_COMMIT_INTERVAL_MS) commitNow();
    else timer ??= setTimeout(commitNow, MIN_COMMIT_INTERVAL_MS - since);
    if (closed) parentPort!.close();
  };
  parentPort!.on('message', handle);
}

const data = workerData as {
  path: string;
  options?: WriterDbOptions;
  durable?: boolean;
  replies: MessagePort;
};
runWriter(data.path, data.options ?? {}, data.durable === true, data.replies);
