// The writer thread: the write-time summaries and the SQLite commits of every operation, in the order the
// training thread posted them:
//
//   training thread ──► writer thread (summaries, SQLite commits) ──► acknowledgements to the training thread
//         │                    └─ writeback thread (writeback.worker.ts)
//         └──► summarizer thread: the summaries of large snapshots (summarizer.ts), taken by the writer thread
//
// One thread, not an encoder thread ahead of a database thread: with the summary in WebAssembly SIMD the
// second hop cost more than it overlapped (every snapshot crossed two message ports and was warmed up by two
// V8 isolates on two cores; docs/benchmarks.md). The writeback thread lets the disk write a commit's pages
// while the commit is still being built. Acknowledgements come back in the order the operations were posted.
// Each commit leaves the file complete (rollback journal, see JOURNAL_MODE in sqlite.ts): a copy of the file
// taken between commits holds what was committed.
import { statSync } from 'node:fs';
import { type MessagePort, parentPort, receiveMessageOnPort, Worker, workerData } from 'node:worker_threads';
import { fromSqlite, type SerializedError, StoreError, serializeError } from './errors.js';
import { HEARTBEAT_MS } from './liveness.js';
import {
  ackOf,
  type InMessage,
  isWriteOp,
  type OutMessage,
  type Posted,
  type WriteOp,
} from './operations.js';

import { openWriterDb, type WriterDbOptions } from './sqlite.js';
import { Summaries, summarizePayload } from './summarizer.js';
import { openedDescriptor, Writeback, writebackControl } from './writeback.js';
import { SnapshotWriter } from './writer-db.js';

/**
 * Largest group committed in one transaction, by count and by payload bytes. A commit costs fsyncs of the
 * journal and the file whatever its size, so a writer that fell behind catches up by committing everything
 * that is waiting, up to 32 MiB (it fits the connection's page cache), in one go.
 */
const MAX_GROUP_OPS = 4096;
const MAX_GROUP_BYTES = 32 * 2 ** 20;
/**
 * Snapshots nobody waits for (writes of a store that is not `durable`) are committed at most this often: each commit holds the
 * file's lock while it writes and fsyncs, and reads wait meanwhile, so a trainer writing many small
 * snapshots commits a few groups a second, not hundreds of small ones. Anything a caller waits for (flush,
 * a durable write, startRun, …) commits at once, with everything before it.
 */
const MIN_COMMIT_INTERVAL_MS = 50;
/**
 * Gives a write its summaries: the summarizer thread's when it was handed the snapshot too and answers,
 * else computed here. Returns the failure, if any (a payload that cannot be read).
 */
function summarized(p: Posted, summarizer: Summaries | undefined): SerializedError | undefined {
  if (p.op.type !== 'write') return undefined;
  const snapshot = p.op.snapshot;
  const r = (snapshot.summaries === 'summarizer' && summarizer?.take(p.seq)) || undefined;
  if (r && 'error' in r) return r.error;
  try {
    snapshot.summaries = r ? r.summaries : summarizePayload(snapshot);
  } catch (err) {
    return serializeError(err);
  }
  return undefined;
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
    writeback = process.env.GRADSCOPE_STORE_WITHOUT?.split(',').includes('writeback')
      ? undefined
      : startWriteback(fd);
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
  let summarizer: Summaries | undefined;
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
      results.push(ackOf(seqs[i]!, r));
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

  const handle = (first: InMessage) => {
    const batch: { posted: Posted; failed?: SerializedError }[] = [];
    const add = (msg: InMessage) => {
      if ('summarizer' in msg) {
        summarizer = new Summaries(msg.summarizer.port, msg.summarizer.control);
        return;
      }
      for (const posted of msg) {
        const failed = summarized(posted, summarizer);
        batch.push(failed ? { posted, failed } : { posted });
        if (posted.op.type === 'write') pendingBytes += posted.op.snapshot.ipc.byteLength;
      }
    };
    add(first);
    // Group what is already waiting (a writer that fell behind commits several snapshots at once).
    while (ops.length + batch.length < MAX_GROUP_OPS && pendingBytes < MAX_GROUP_BYTES) {
      const last = batch[batch.length - 1];
      if (last && !isWriteOp(last.posted.op)) break;
      const next = receiveMessageOnPort(parentPort!);
      if (!next) break;
      add(next.message as InMessage);
    }
    // Anything but a snapshot write is awaited by its caller (flush, startRun, …), and so is every write of a
    // durable store.
    const urgent = durable || batch.some((m) => m.posted.op.type !== 'write');
    for (const { posted, failed } of batch) {
      const { seq, op } = posted;
      if (closed) {
        results.push({
          seq,
          ok: false,
          error: serializeError(new StoreError('ECLOSED', `${writer.file}: the store is closed`)),
        });
        continue;
      }
      if (failed) {
        commit();
        results.push({ seq, ok: false, error: failed });
        continue;
      }
      if (isWriteOp(op)) {
        ops.push(op);
        seqs.push(seq);
        continue;
      }
      // An operation that ends the group: what came before it is committed first.
      commit();
      if (closed) continue; // the commit failed the store (see commit)
      switch (op.type) {
        case 'vacuum':
        case 'compact':
          try {
            const value =
              op.type === 'vacuum'
                ? writer.vacuum()
                : writer.compact(op.policy, () => statSync(writer.file).size);
            results.push({ seq, ok: true, ...(value === undefined ? {} : { value }) });
          } catch (err) {
            results.push({ seq, ok: false, error: serializeError(err) });
          }
          break;
        case 'flush':
          results.push({ seq, ok: true });
          break;
        case 'close':
          closed = true;
          clearInterval(beat);
          writeback?.stop();
          try {
            writer.close();
            results.push({ seq, ok: true });
          } catch (err) {
            results.push({ seq, ok: false, error: serializeError(err) });
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
