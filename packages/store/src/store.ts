// openStore: the Sink the capture writes to. The training thread only validates, copies the float32
// buffer into the Arrow payload and posts it; summaries and SQLite commits run in the writer thread (the
// summaries of large snapshots in the summarizer thread, see summarizer.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { checkOptions } from '@gradscope/format';
import { StoreError } from './errors.js';
import type { Operation } from './operations.js';
import { encodePayload } from './payload.js';
import { isPostgresUrl, type PostgresUrl, shownUrl } from './postgres/connection.js';
import type { CompactPolicy, CompactResult, RunTag, RunWriter } from './provider.js';
import { type StoreStatus, WITHOUT, WriterQueue } from './queue.js';
import { type Slab, Slabs } from './slabs.js';
import { openWriterDb } from './sqlite.js';
import { STORE_OPTIONS, type StoreOptions, type StoreStats } from './store-options.js';
import { SUMMARIZER_MIN_VALUES, type SummaryJob, startSummarizer } from './summarizer.js';
import { encodeTensor, snapshotMeta } from './tensor.js';
import type { RunInfo, ScalarPoint, Snapshot, WrittenRunStatus } from './types.js';
import {
  checkDbPath,
  nonEmptyString,
  positiveInt,
  validateCompactPolicy,
  validateRunInfo,
  validateRunMeta,
  validateRunTag,
  validateScalars,
  validateSnapshot,
  validateStatus,
} from './validate.js';

export type { StoreOptions, StoreStats, StoreStatus };

/** Finds a worker module (`writer`, `summarizer`) beside this module, or in ../dist when this one runs from src (tests). */
function workerUrl(name: 'writer' | 'summarizer' | 'postgres/writer'): URL {
  const candidates = [
    new URL(`./${name}.worker.js`, import.meta.url),
    new URL(`../dist/${name}.worker.js`, import.meta.url),
  ];
  for (const url of candidates) if (existsSync(fileURLToPath(url))) return url;
  throw new StoreError(
    'EWORKER',
    `cannot find the ${name} worker (looked for ${candidates.map((u) => fileURLToPath(u)).join(' and ')}); build @gradscope/store first`,
  );
}

/**
 * A gradscope database open for writing. Implements the capture's Sink.
 *
 * Acknowledgement: a snapshot is *acknowledged* when a flush() called after its write() has resolved (or,
 * with `durable: true`, when its write() has resolved). An acknowledged snapshot is committed and survives
 * the process being killed and power loss (see `synchronous`).
 */
export class Store implements RunWriter {
  /** The operations between this thread and the writer thread, and the store's lifecycle (queue.ts). */
  private readonly queue: WriterQueue;
  /** Shared memory the payloads are encoded into (see slabs.ts). */
  private readonly slabs = new Slabs();
  /** The summarizer thread of large payloads (see summarizer.ts), started with the first; null: none could start. */
  private summarizer: { worker: Worker; control: Int32Array } | null | undefined;
  private closePromise: Promise<void> | undefined;

  /** @internal use openStore */
  constructor(
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly writer: Worker,
    /** The writer thread's acknowledgements and fatal errors. */
    replies: MessagePort,
    private readonly options: StoreOptions,
  ) {
    this.queue = new WriterQueue(
      path,
      writer,
      replies,
      options,
      (slab) => this.slabs.release(slab),
      () => void this.summarizer?.worker.terminate().catch(() => {}),
    );
  }

  /** Where the store is in its life (see StoreStatus). */
  get status(): StoreStatus {
    return this.queue.status;
  }

  /** What became of the snapshots written so far (see StoreStats). */
  stats(): StoreStats {
    return this.queue.stats();
  }

  /**
   * The summarizer thread, started on first use and introduced to the writer thread (which takes its results
   * from a port of its own); undefined when it cannot start (the writer then summarizes everything).
   */
  private summarizerThread(): { worker: Worker; control: Int32Array } | undefined {
    if (WITHOUT.has('summarizer')) return undefined;
    if (this.summarizer !== undefined) return this.summarizer ?? undefined;
    this.summarizer =
      startSummarizer(workerUrl('summarizer'), this.writer, () => {
        this.summarizer = null; // later large payloads are summarized by the writer thread
      }) ?? null;
    return this.summarizer ?? undefined;
  }

  /**
   * Hands a snapshot to the writer. Resolves when it is accepted into the queue (after waiting for room
   * when the queue is full), or, with `durable: true`, when it is committed. Rejects (and stores nothing)
   * when the snapshot is malformed, the store is closed, or an earlier accepted write failed and that
   * failure has not been reported through a rejection yet. Do not modify `snapshot.data` until it resolves.
   */
  write(snapshot: Snapshot): Promise<void> {
    this.queue.drain();
    const refused = this.queue.refusal();
    if (refused) return Promise.reject(refused);
    let label: string;
    try {
      label = validateSnapshot(snapshot);
    } catch (err) {
      return Promise.reject(err);
    }
    const durable = this.options.durable === true;
    return this.queue.enqueue({
      kind: 'write',
      bytes: snapshot.data.byteLength,
      label,
      atCommit: durable,
      make: (seq) => {
        // The one copy the training thread makes goes straight into the Arrow IPC payload, in shared memory
        // (a slab, or a shared buffer of its own when it is too large for one: see slabs.ts).
        const src = snapshot.data;
        const meta = snapshotMeta(snapshot);
        const shape = [...snapshot.shape];
        const dims = [...snapshot.dims];
        let slab: Slab | undefined;
        const alloc = WITHOUT.has('slabs')
          ? undefined
          : (size: number): Uint8Array => {
              const shared = this.slabs.alloc(size);
              slab = shared.slab;
              return shared.bytes;
            };
        try {
          const { ipc, dataOffset } = WITHOUT.has('templates')
            ? { ipc: encodeTensor(src, shape, dims, meta, alloc), dataOffset: -1 }
            : encodePayload(src, shape, dims, meta, alloc);
          const op: Operation = { type: 'write', snapshot: { meta, shape, dims, ipc, dataOffset, label } };
          // A large payload: the summarizer starts on it now, while the writer commits what came before.
          const summarizer = src.length >= SUMMARIZER_MIN_VALUES ? this.summarizerThread() : undefined;
          if (summarizer) {
            op.snapshot.summaries = 'summarizer';
            summarizer.worker.postMessage({ seq, op } satisfies SummaryJob);
          }
          return { op, slab };
        } catch (err) {
          if (slab) this.slabs.release(slab);
          throw err;
        }
      },
    });
  }

  /** Records (or re-opens) a run. Resolves when committed. */
  startRun(run: RunInfo): Promise<void> {
    return this.control(`run ${run?.id}`, () => {
      const info = validateRunInfo(run);
      return { type: 'startRun', run: JSON.parse(JSON.stringify(info)) as RunInfo };
    });
  }

  /**
   * Records a run's end status, at `endedAt` (ms since the epoch; default now: a copy of a run keeps its
   * end). Resolves when committed.
   */
  endRun(runId: string, status: WrittenRunStatus, endedAt?: number): Promise<void> {
    return this.control(`run ${runId}`, () => {
      validateStatus(status);
      if (endedAt !== undefined && !Number.isFinite(endedAt))
        throw new StoreError(
          'EINVAL',
          `endedAt must be a time in ms since the epoch, got ${String(endedAt)}`,
        );
      return { type: 'endRun', runId, status, ...(endedAt !== undefined ? { endedAt } : {}) };
    });
  }

  /**
   * Records training scalars of a run (the `fit` logs, the probe loss) through the writer thread. Resolves
   * when committed. A run that was never started is recorded with what is known, as for write().
   */
  writeScalars(run: string, points: ScalarPoint[]): Promise<void> {
    return this.control(`scalars of run ${run}`, () => {
      const plain = validateScalars(run, points);
      return plain.length === 0 ? null : { type: 'scalars', runId: run, points: plain };
    });
  }

  /** Renames a run (by id, or by name: the most recently started run of that name). Rejects ENOTFOUND. */
  renameRun(run: string, name: string): Promise<void> {
    return this.control(`run ${run}`, () => {
      nonEmptyString(run, 'run');
      nonEmptyString(name, 'name');
      return { type: 'renameRun', run, name };
    });
  }

  /**
   * Sets keys of a run's `meta` (by id, or by name as for renameRun) through the writer thread: the keys of
   * `meta` replace those stored, the others are kept. Nothing else of the run changes (unlike startRun,
   * which re-opens it and clears its end time). `meta` must be a JSON object. Rejects ENOTFOUND.
   */
  updateRunMeta(run: string, meta: Record<string, unknown>): Promise<void> {
    return this.control(`run ${run}`, () => {
      nonEmptyString(run, 'run');
      return { type: 'updateRunMeta', run, meta: validateRunMeta(meta) };
    });
  }

  /**
   * Sets a run's group and parameters (by id, or by name as for renameRun) through the writer thread:
   * `group` replaces the group (null removes it); the keys of `params` are set over those stored, a null
   * value removing its key. Nothing else of the run changes. Rejects EINVAL (a group that is not a
   * non-empty string, params that are not a JSON object) or ENOTFOUND.
   */
  tagRun(run: string, tag: RunTag): Promise<void> {
    return this.control(`run ${run}`, () => {
      nonEmptyString(run, 'run');
      return { type: 'tagRun', run, tag: validateRunTag(tag) };
    });
  }

  /**
   * Deletes a run (by id or name) with its snapshots, payloads, summaries, series and scalars, in one
   * transaction. The file keeps its size until vacuum(). Rejects ENOTFOUND.
   */
  deleteRun(run: string): Promise<void> {
    return this.control(`run ${run}`, () => {
      nonEmptyString(run, 'run');
      return { type: 'deleteRun', run };
    });
  }

  /** Rewrites the file without its free pages (after deleteRun or compact), so that it shrinks. */
  vacuum(): Promise<void> {
    return this.control('vacuum', () => ({ type: 'vacuum' }));
  }

  /**
   * Retention for long runs: keeps, per run, the first `keepFirst` iterations, every `every`-th after them,
   * the last one and the `keep` list; removes the snapshots of the other iterations (scalars stay), rebuilds
   * the flow and histogram series and VACUUMs. Resolves with what was removed and the file sizes.
   */
  compact(policy: CompactPolicy): Promise<CompactResult> {
    return this.control<CompactResult>('compact', () => ({
      type: 'compact',
      policy: validateCompactPolicy(policy),
    }));
  }

  /**
   * An operation other than a snapshot write: refused when the store is closed or failed; `message` checks
   * its arguments on this thread (throwing a StoreError rejects the call, nothing is queued) and returns
   * what to send, or null when there is nothing to do. Settles when the writer committed it.
   */
  private control<T = void>(label: string, operation: () => Operation | null): Promise<T> {
    this.queue.drain();
    const refused = this.queue.refusal();
    if (refused) return Promise.reject(refused);
    let op: Operation | null;
    try {
      op = operation();
    } catch (err) {
      return Promise.reject(err);
    }
    if (op === null) return Promise.resolve(undefined as T);
    const made = { op };
    return this.queue.enqueue<T>({ kind: op.type, bytes: 0, label, atCommit: true, make: () => made });
  }

  /**
   * Resolves when everything written before this call (accepted or still waiting for room) is committed.
   * Rejects with the failure when any of it, or an earlier accepted write not yet reported, failed.
   */
  flush(): Promise<void> {
    this.queue.drain();
    if (this.queue.status === 'failed') return Promise.reject(this.queue.failure);
    if (this.closePromise) return this.closePromise;
    const made = { op: { type: 'flush' } as const };
    return this.queue.enqueue({ kind: 'flush', bytes: 0, label: 'flush', atCommit: true, make: () => made });
  }

  /**
   * Flushes, finishes the runs this store created from snapshots alone (no startRun), closes the database
   * (the .gradscope file alone holds everything: copy it, mail it) and stops the writer thread. Idempotent.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.queue.status === 'open') this.queue.status = 'closing';
    this.closePromise = (async () => {
      try {
        if (this.queue.status === 'closing') {
          const made = { op: { type: 'close' } as const };
          await this.queue.enqueue({
            kind: 'close',
            bytes: 0,
            label: 'close',
            atCommit: true,
            make: () => made,
          });
          if (this.queue.status === 'closing') this.queue.status = 'closed';
        }
      } finally {
        // The database is closed before the writer thread acknowledges the close: the file is complete now.
        // The thread's teardown (its V8 isolate and the writeback thread) is not waited for; it no
        // longer keeps the process alive.
        this.writer.unref();
        void this.writer.terminate().catch(() => {});
        void this.summarizer?.worker.terminate().catch(() => {});
      }
      if (this.queue.status === 'failed') throw this.queue.failure;
    })();
    return this.closePromise;
  }
}

/**
 * Opens (creating if needed) a gradscope database for writing and starts its writer threads. The file is
 * checked, created and migrated right here, so a bad path (EPATH), a read-only file or directory
 * (EREADONLY), a file that is not a gradscope database (ENOTDB) or one of a newer schema (ENEWER) throws a
 * StoreError naming the file and the cause before anything is written.
 */
export function openStore(url: PostgresUrl, options?: StoreOptions): Store;
export function openStore(path: string, options?: StoreOptions): Store;
export function openStore(path: string, options: StoreOptions = {}): Store {
  checkOptions(options, STORE_OPTIONS, 'openStore', (message) => new StoreError('EINVAL', message));
  if (isPostgresUrl(path)) return openPostgresStore(path, options);
  if (options.unavailableMs !== undefined)
    throw new StoreError('EINVAL', 'unavailableMs is an option of a store on PostgreSQL, not of a file');
  const file = checkDbPath(path, false);
  positiveInt(options.maxQueueBytes, 'maxQueueBytes', 1);
  positiveInt(options.maxQueueCount, 'maxQueueCount', 1);
  positiveInt(options.busyTimeoutMs, 'busyTimeoutMs', 1);
  positiveInt(options.maxPageCount, 'maxPageCount', 1);
  if (
    options.synchronous !== undefined &&
    options.synchronous !== 'normal' &&
    options.synchronous !== 'full'
  ) {
    throw new StoreError(
      'EINVAL',
      `synchronous must be 'normal' or 'full', got ${JSON.stringify(options.synchronous)}`,
    );
  }
  const dbOptions = {
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.synchronous !== undefined ? { synchronous: options.synchronous } : {}),
    ...(options.maxPageCount !== undefined ? { maxPageCount: options.maxPageCount } : {}),
  };
  // Identity checks, schema creation and migrations happen on this thread, so that their errors are thrown
  // here; the writer thread then opens the ready database.
  openWriterDb(file, { ...dbOptions, maxPageCount: undefined }).db.close();
  const { port1: replies, port2: writerReplies } = new MessageChannel();
  const writer = new Worker(workerUrl('writer'), {
    workerData: {
      path: file,
      options: dbOptions,
      durable: options.durable === true,
      replies: writerReplies,
    },
    transferList: [writerReplies],
  });
  return new Store(file, writer, replies, options);
}

/**
 * A store on PostgreSQL: the same Store, its writer thread committing to the database (postgres/
 * writer.worker.ts). The tables are created or migrated by that thread on first use, so a database that
 * cannot be reached, refuses the credentials or holds a newer schema fails the first write, flush or close
 * (EUNAVAILABLE, EPATH, ENEWER), not this call.
 */
function openPostgresStore(url: PostgresUrl, options: StoreOptions): Store {
  for (const name of ['synchronous', 'busyTimeoutMs', 'maxPageCount'] as const) {
    if (options[name] !== undefined)
      throw new StoreError(
        'EINVAL',
        `${name} is an option of a store file, not of one on PostgreSQL (${shownUrl(url)})`,
      );
  }
  positiveInt(options.maxQueueBytes, 'maxQueueBytes', 1);
  positiveInt(options.maxQueueCount, 'maxQueueCount', 1);
  positiveInt(options.unavailableMs, 'unavailableMs', 1);
  const { port1: replies, port2: writerReplies } = new MessageChannel();
  const writer = new Worker(workerUrl('postgres/writer'), {
    workerData: { url, unavailableMs: options.unavailableMs, replies: writerReplies },
    transferList: [writerReplies],
  });
  return new Store(shownUrl(url), writer, replies, options);
}
