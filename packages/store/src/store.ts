// openStore: the Sink the capture writes to. The training thread only validates, copies the float32
// buffer into the Arrow payload and posts it; summaries and SQLite commits run in the writer thread (the
// summaries of large snapshots in the summarizer thread, see summarizer.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { checkOptions, type OptionKeys } from '@gradscope/format';
import { deserializeError, type SerializedError, StoreError, serializeError } from './errors.js';
import type { Operation, Posted } from './operations.js';
import { encodePayload } from './payload.js';
import { isPostgresUrl, type PostgresUrl, shownUrl } from './postgres/connection.js';
import type { CompactPolicy, CompactResult, RunTag, RunWriter } from './provider.js';
import { type Slab, Slabs } from './slabs.js';
import { openWriterDb } from './sqlite.js';
import {
  SUMMARIZER_MIN_VALUES,
  SLOT as SUMMARIZER_SLOT,
  type SummaryJob,
  summarizerControl,
} from './summarizer.js';
import { encodeTensor, snapshotMeta } from './tensor.js';
import type { RunInfo, ScalarPoint, Snapshot, WrittenRunStatus } from './types.js';
import {
  checkDbPath,
  nonEmptyString,
  positiveInt,
  validateCompactPolicy,
  validateRunInfo,
  validateRunTag,
  validateScalars,
  validateSnapshot,
  validateStatus,
} from './validate.js';
import type { InMessage, OutMessage } from './writer.worker.js';

export interface StoreOptions {
  /** Bytes of snapshot data accepted but not yet committed before write() waits (default 256 MiB). */
  maxQueueBytes?: number;
  /** Snapshots accepted but not yet committed before write() waits (default 65,536). */
  maxQueueCount?: number;
  /**
   * false (default): write() resolves when the snapshot is accepted into the queue; use flush() to wait for
   * the commit. true: write() resolves only after the snapshot is committed (and rejects if that fails).
   */
  durable?: boolean;
  /**
   * SQLite synchronous level. Both fsync the file at each commit, so a commit survives the process being
   * killed at any moment and an OS crash or power loss; 'full' (default 'normal') also syncs the journal's
   * header, closing the small window in which a power loss mid-commit could damage the file on filesystems
   * that do not order writes.
   */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another process's lock before failing with EBUSY (default 10 000 ms). */
  busyTimeoutMs?: number;
  /** SQLite max_page_count for the writer connection: simulates a full disk in tests. */
  maxPageCount?: number;
  /** Where the one-time "queue full" warning goes (default: stderr). */
  onWarning?: (message: string) => void;
  /**
   * Called for every failed operation (a snapshot that could not be committed, a run that could not be
   * recorded, the writer dying). Without it, failures of accepted non-durable writes are printed to stderr
   * once per kind (StoreError code), and counted in stats().failed. Either way the failure also rejects the
   * next write(), flush() or close().
   */
  onError?: (error: StoreError) => void;
  /**
   * PostgreSQL only: how long a commit is retried while the database server cannot be reached (a restart,
   * a failover) before its operations fail with EUNAVAILABLE, ms (default 10 000).
   */
  unavailableMs?: number;
}

/** StoreOptions' keys: anything else given to openStore is an error. */
const STORE_OPTIONS = {
  maxQueueBytes: true,
  maxQueueCount: true,
  durable: true,
  synchronous: true,
  busyTimeoutMs: true,
  maxPageCount: true,
  onWarning: true,
  onError: true,
  unavailableMs: true,
} as const satisfies OptionKeys<StoreOptions>;

export interface StoreStats {
  /** Snapshots accepted into the queue. */
  accepted: number;
  /** Snapshots committed. */
  committed: number;
  /**
   * Snapshots accepted (their write() resolved) that then failed to commit, or were lost when the writer
   * thread died: what a caller counting drops must add to the writes that rejected (Sink.stats). A
   * `durable: true` write settles at commit, so its failure rejects that write() and is not counted here.
   */
  failed: number;
  /** Snapshot bytes accepted and not yet committed or failed. */
  queuedBytes: number;
  /** Snapshots accepted and not yet committed or failed. */
  queuedCount: number;
  /** write() calls waiting for room in the queue. */
  waiting: number;
}

type OpKind = Operation['type'];

/**
 * Where a store is in its life (Store.status):
 * - 'open': accepts operations and hands them to the writer thread;
 * - 'closing': close() was called: new operations are refused (ECLOSED), those accepted before are committed;
 * - 'closed': the writer thread closed the database: the file is complete;
 * - 'failed': the writer thread died, or stopped after a disk error: everything in flight and everything
 *   after rejects with the failure (EWORKER, EIO).
 */
export type StoreStatus = 'open' | 'closing' | 'closed' | 'failed';

interface Waiting {
  kind: OpKind;
  bytes: number;
  label: string;
  /** Makes the operation (and the slab holding its payload, see slabs.ts) when it leaves the waiting line. */
  make: (seq: number) => { op: Operation; slab?: Slab | undefined };
  resolve: (value?: unknown) => void;
  reject: (err: StoreError) => void;
  /** Settle at commit (true) or at acceptance (false, non-durable writes). */
  atCommit: boolean;
}

interface Pending {
  kind: OpKind;
  bytes: number;
  label: string;
  /** The slab holding the payload, released at the acknowledgement. */
  slab?: Slab | undefined;
  settle?: { resolve: (value?: unknown) => void; reject: (err: StoreError) => void };
}

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

/** MEASUREMENT ONLY (scripts/bench/store-parts.mjs): moving parts of the write path turned off. */
const WITHOUT = new Set((process.env.GRADSCOPE_STORE_WITHOUT ?? '').split(','));

const DEFAULT_MAX_QUEUE_BYTES = 256 * 2 ** 20;
/** The outbox is posted when it holds this many operations or bytes (or at the end of the event-loop turn). */
const OUTBOX_MAX_COUNT = 64;
const OUTBOX_MAX_BYTES = 2 * 2 ** 20;
/** The queue is bounded by bytes; the count bound only guards against floods of tiny snapshots. */
const DEFAULT_MAX_QUEUE_COUNT = 65_536;

/**
 * A gradscope database open for writing. Implements the capture's Sink.
 *
 * Acknowledgement: a snapshot is *acknowledged* when a flush() called after its write() has resolved (or,
 * with `durable: true`, when its write() has resolved). An acknowledged snapshot is committed and survives
 * the process being killed and power loss (see `synchronous`).
 */
export class Store implements RunWriter {
  private seq = 0;
  private readonly waiting: Waiting[] = [];
  private readonly pending = new Map<number, Pending>();
  private inflightBytes = 0;
  private inflightCount = 0;
  private undelivered: StoreError[] = [];
  /** See StoreStatus. */
  status: StoreStatus = 'open';
  /** Why the store failed (status 'failed'). */
  private failure: StoreError | undefined;
  private closePromise: Promise<void> | undefined;
  private warnedFull = false;
  private readonly printed = new Set<string>();
  private readonly maxBytes: number;
  private readonly maxCount: number;
  private readonly counters = { accepted: 0, committed: 0, failed: 0 };
  private referenced = true;
  /** Shared memory the payloads are encoded into (see slabs.ts). */
  private readonly slabs = new Slabs();
  /** The summarizer thread of large payloads (see summarizer.ts), started with the first; null: none could start. */
  private summarizer: { worker: Worker; control: Int32Array } | null | undefined;
  /**
   * Operations not posted yet: the writes of one event-loop turn go to the writer thread in one message
   * (see pump), so that a burst of writes is accepted whole before any of it can fail.
   */
  private outbox: Posted[] = [];
  private outboxBytes = 0;
  private outboxScheduled = false;
  private readonly postOutbox = () => {
    this.outboxScheduled = false;
    this.post();
  };

  /** @internal use openStore */
  constructor(
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly writer: Worker,
    /** The writer thread's acknowledgements and fatal errors (see drain). */
    private readonly replies: MessagePort,
    private readonly options: StoreOptions,
  ) {
    this.maxBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.maxCount = options.maxQueueCount ?? DEFAULT_MAX_QUEUE_COUNT;
    replies.on('message', (msg: OutMessage) => this.onReply(msg));
    // The writer thread keeps the process alive while there is work (updateRef), not this port.
    replies.unref();
    writer.on('error', (err) => {
      this.drain();
      this.die(
        new StoreError('EWORKER', `${path}: the writer thread failed: ${err.message}`, {
          file: path,
          cause: err,
        }),
      );
    });
    writer.on('exit', (code) => {
      // Its last acknowledgements (a close) may still be on the port: a separate channel is not ordered with this event.
      this.drain();
      if (this.status === 'open' || this.pending.size > 0) {
        this.die(
          new StoreError('EWORKER', `${path}: the writer thread exited (code ${code})`, { file: path }),
        );
      }
    });
    this.updateRef();
  }

  /**
   * The summarizer thread, started on first use and introduced to the writer thread (which takes its results
   * from a port of its own); undefined when it cannot start (the writer then summarizes everything).
   */
  private summarizerThread(): { worker: Worker; control: Int32Array } | undefined {
    if (WITHOUT.has('summarizer')) return undefined;
    if (this.summarizer !== undefined) return this.summarizer ?? undefined;
    this.summarizer = null;
    const control = summarizerControl();
    const { port1, port2 } = new MessageChannel();
    let worker: Worker;
    try {
      worker = new Worker(workerUrl('summarizer'), {
        workerData: { out: port1, control },
        transferList: [port1],
      });
    } catch {
      return undefined;
    }
    worker.unref();
    // It only saves time: when it fails or exits, the writer thread stops waiting for it (SLOT.gone).
    worker.on('error', () => {});
    worker.on('exit', () => {
      Atomics.store(control, SUMMARIZER_SLOT.gone, 1);
      Atomics.notify(control, SUMMARIZER_SLOT.results);
      this.summarizer = null; // later large payloads are summarized by the writer thread
    });
    this.writer.postMessage({ summarizer: { port: port2, control } } satisfies InMessage, [port2]);
    this.summarizer = { worker, control };
    return this.summarizer;
  }

  /**
   * Takes the writer's replies that have arrived, without waiting for the event loop. \`model.fit\` with only
   * tf.Callback subclasses never returns to the event loop until it ends (every await of its loop is a
   * microtask on the cpu and wasm backends), so a reply handled only by a 'message' listener would wait for
   * the end of training: a writeScalars() would stay unsettled for the whole fit, and write() would find the
   * queue full once its committed snapshots went unacknowledged. Every call into the store drains first.
   */
  private drain(): void {
    for (let m = receiveMessageOnPort(this.replies); m !== undefined; m = receiveMessageOnPort(this.replies))
      this.onReply(m.message as OutMessage);
  }

  private onReply(msg: OutMessage): void {
    if (msg.type === 'fatal') this.die(deserializeError(msg.error));
    else if (msg.type === 'acks') this.onAcks(msg.results);
  }

  stats(): StoreStats {
    this.drain();
    return {
      ...this.counters,
      queuedBytes: this.inflightBytes,
      queuedCount: this.inflightCount,
      waiting: this.waiting.filter((w) => w.kind === 'write').length,
    };
  }

  /**
   * Hands a snapshot to the writer. Resolves when it is accepted into the queue (after waiting for room
   * when the queue is full), or, with `durable: true`, when it is committed. Rejects (and stores nothing)
   * when the snapshot is malformed, the store is closed, or an earlier accepted write failed and that
   * failure has not been reported through a rejection yet. Do not modify `snapshot.data` until it resolves.
   */
  write(snapshot: Snapshot): Promise<void> {
    this.drain();
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    let label: string;
    try {
      label = validateSnapshot(snapshot);
    } catch (err) {
      return Promise.reject(err);
    }
    const durable = this.options.durable === true;
    return this.enqueue({
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

  /** Records a run's end status. Resolves when committed. */
  endRun(runId: string, status: WrittenRunStatus): Promise<void> {
    return this.control(`run ${runId}`, () => {
      validateStatus(status);
      return { type: 'endRun', runId, status };
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
      if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
        throw new StoreError(
          'EINVAL',
          `meta must be a JSON object, got ${Array.isArray(meta) ? 'an array' : String(meta)}`,
        );
      }
      let plain: Record<string, unknown>;
      try {
        plain = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
      } catch (err) {
        throw new StoreError('EINVAL', `meta is not JSON: ${(err as Error).message}`);
      }
      return { type: 'updateRunMeta', run, meta: plain };
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
    this.drain();
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    let op: Operation | null;
    try {
      op = operation();
    } catch (err) {
      return Promise.reject(err);
    }
    if (op === null) return Promise.resolve(undefined as T);
    const made = { op };
    return this.enqueue<T>({ kind: op.type, bytes: 0, label, atCommit: true, make: () => made });
  }

  /**
   * Resolves when everything written before this call (accepted or still waiting for room) is committed.
   * Rejects with the failure when any of it, or an earlier accepted write not yet reported, failed.
   */
  flush(): Promise<void> {
    this.drain();
    if (this.status === 'failed') return Promise.reject(this.failure);
    if (this.closePromise) return this.closePromise;
    const made = { op: { type: 'flush' } as const };
    return this.enqueue({ kind: 'flush', bytes: 0, label: 'flush', atCommit: true, make: () => made });
  }

  /**
   * Flushes, finishes the runs this store created from snapshots alone (no startRun), closes the database
   * (the .gradscope file alone holds everything: copy it, mail it) and stops the writer thread. Idempotent.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.status === 'open') this.status = 'closing';
    this.closePromise = (async () => {
      try {
        if (this.status === 'closing') {
          const made = { op: { type: 'close' } as const };
          await this.enqueue({ kind: 'close', bytes: 0, label: 'close', atCommit: true, make: () => made });
          if (this.status === 'closing') this.status = 'closed';
        }
      } finally {
        // The database is closed before the writer thread acknowledges the close: the file is complete now.
        // The thread's teardown (its V8 isolate and the writeback thread, 15-20 ms) is not waited for; it no
        // longer keeps the process alive.
        this.writer.unref();
        void this.writer.terminate().catch(() => {});
        void this.summarizer?.worker.terminate().catch(() => {});
      }
      if (this.status === 'failed') throw this.failure;
    })();
    return this.closePromise;
  }

  private refusal(): StoreError | undefined {
    if (this.status === 'failed') return this.failure;
    if (this.status !== 'open')
      return new StoreError('ECLOSED', `${this.path}: the store is closed`, { file: this.path });
    return this.takeUndelivered();
  }

  private takeUndelivered(): StoreError | undefined {
    const errors = this.undelivered;
    if (errors.length === 0) return undefined;
    this.undelivered = [];
    if (errors.length === 1) return errors[0];
    const first = errors[0]!;
    return new StoreError(first.code, `${errors.length} earlier writes failed; the first: ${first.message}`, {
      file: this.path,
      cause: first,
    });
  }

  private enqueue<T = void>(w: Omit<Waiting, 'resolve' | 'reject'>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ ...w, resolve: resolve as (value?: unknown) => void, reject });
      this.pump();
    });
  }

  private fits(w: Waiting): boolean {
    if (w.kind !== 'write' || this.inflightCount === 0) return true;
    return this.inflightBytes + w.bytes <= this.maxBytes && this.inflightCount + 1 <= this.maxCount;
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.status !== 'failed') {
      const w = this.waiting[0]!;
      if (!this.fits(w)) {
        this.warnFull();
        break;
      }
      this.waiting.shift();
      const seq = ++this.seq;
      let made: { op: Operation; slab?: Slab | undefined };
      try {
        made = w.make(seq);
      } catch (err) {
        w.reject(
          err instanceof StoreError
            ? err
            : new StoreError(
                'EINVAL',
                `${this.path}: cannot hand ${w.label} to the writer: ${(err as Error).message}`,
              ),
        );
        continue;
      }
      const p: Pending = { kind: w.kind, bytes: w.bytes, label: w.label, slab: made.slab };
      if (w.atCommit) p.settle = { resolve: w.resolve, reject: w.reject };
      this.pending.set(seq, p);
      if (w.kind === 'write') {
        this.inflightBytes += w.bytes;
        this.inflightCount++;
        this.counters.accepted++;
      }
      this.outbox.push({ seq, op: made.op });
      this.outboxBytes += w.bytes;
      if (
        WITHOUT.has('outbox') ||
        this.outbox.length >= OUTBOX_MAX_COUNT ||
        this.outboxBytes >= OUTBOX_MAX_BYTES
      )
        this.post();
      if (!w.atCommit) w.resolve();
    }
    if (this.outbox.length > 0) {
      // Waiting for room, or an operation that settles at commit: the writer must see everything now.
      if (this.waiting.length > 0 || !this.outbox.every((m) => m.op.type === 'write')) this.post();
      else if (!this.outboxScheduled) {
        this.outboxScheduled = true;
        setImmediate(this.postOutbox);
      }
    }
    this.updateRef();
  }

  /** Posts the outbox to the writer thread as one message. */
  private post(): void {
    if (this.outbox.length === 0) return;
    const posted = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    if (this.status === 'failed') return;
    try {
      this.writer.postMessage(posted satisfies InMessage);
    } catch (err) {
      // Cannot happen for the plain, validated operations made here; fail them rather than lose them.
      const error = new StoreError(
        'EINVAL',
        `${this.path}: cannot hand ${posted.length} operations to the writer: ${(err as Error).message}`,
      );
      this.onAcks(posted.map((m) => ({ seq: m.seq, ok: false, error: serializeError(error) })));
    }
  }

  private warnFull(): void {
    if (this.warnedFull) return;
    this.warnedFull = true;
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
    const message =
      `gradscope store: the write queue of ${this.path} is full (${this.inflightCount} snapshots, ${mb(this.inflightBytes)} ` +
      `not yet committed; limits ${this.maxCount} snapshots, ${mb(this.maxBytes)}): write() now waits for the disk. ` +
      'Nothing is dropped; raise maxQueueBytes/maxQueueCount or record less often. (Printed once.)';
    if (this.options.onWarning) this.options.onWarning(message);
    else process.stderr.write(`${message}\n`);
  }

  private onAcks(results: { seq: number; ok: boolean; value?: unknown; error?: SerializedError }[]): void {
    for (const r of results) {
      const p = this.pending.get(r.seq);
      if (!p) continue;
      this.pending.delete(r.seq);
      // Committed or failed: no thread reads its payload any more.
      if (p.slab) this.slabs.release(p.slab);
      if (p.kind === 'write') {
        this.inflightBytes -= p.bytes;
        this.inflightCount--;
        if (r.ok) this.counters.committed++;
        // A durable write settles at commit: its failure rejects that write() and is not counted again.
        else if (!p.settle) this.counters.failed++;
      }
      if (r.ok) {
        if (p.kind === 'flush' || p.kind === 'close') {
          const err = this.takeUndelivered();
          if (err) p.settle?.reject(err);
          else p.settle?.resolve();
        } else {
          p.settle?.resolve(r.value);
        }
        continue;
      }
      const error = deserializeError(r.error!);
      this.options.onError?.(error);
      if (p.settle) {
        p.settle.reject(error);
      } else {
        this.undelivered.push(error);
        // Said once per kind of failure: a full disk fails every later snapshot with the same cause.
        if (!this.options.onError && !this.printed.has(error.code)) {
          this.printed.add(error.code);
          process.stderr.write(
            `gradscope store: ${error.message} (printed once; later ${error.code} failures are counted in stats().failed)\n`,
          );
        }
      }
    }
    this.pump();
  }

  /** The writer is gone: fail everything in flight and everything after. */
  private die(error: StoreError): void {
    if (this.status === 'failed') return;
    this.status = 'failed';
    this.failure = error;
    this.options.onError?.(error);
    // Accepted (write() resolved) and never committed: lost with the writer, counted as failed.
    const lost = [...this.pending.values()].filter((p) => p.kind === 'write' && !p.settle).length;
    this.counters.failed += lost;
    for (const p of this.pending.values()) p.settle?.reject(error);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w.reject(error);
    this.inflightBytes = 0;
    this.inflightCount = 0;
    if (!this.options.onError) {
      process.stderr.write(
        `gradscope store: ${error.message}${lost > 0 ? ` (${lost} accepted snapshots were not committed)` : ''}\n`,
      );
    }
    void this.writer.terminate();
    void this.summarizer?.worker.terminate().catch(() => {});
    this.updateRef();
  }

  /** Workers keep the process alive only while there is work in flight. */
  private updateRef(): void {
    const busy = this.pending.size > 0 || this.waiting.length > 0;
    if (busy === this.referenced) return;
    this.referenced = busy;
    if (busy) this.writer.ref();
    else this.writer.unref();
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
