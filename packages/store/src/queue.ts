// The line between the training thread and the writer thread: operations wait here for room (the queue's
// bounds), leave in order with their sequence number (posted together per event-loop turn: the outbox), and
// settle when the writer acknowledges them. It also holds the store's lifecycle (StoreStatus) and its
// accounting (StoreStats), and fails everything at once when the writer thread dies.
import { type MessagePort, receiveMessageOnPort, type Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError, StoreError, serializeError } from './errors.js';
import type { InMessage, Operation, OutMessage, Posted } from './operations.js';
import type { Slab } from './slabs.js';
import type { StoreOptions, StoreStats } from './store-options.js';

/** MEASUREMENT ONLY (scripts/bench/store-parts.mjs): moving parts of the write path turned off. */
export const WITHOUT = new Set((process.env.GRADSCOPE_STORE_WITHOUT ?? '').split(','));

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

export interface Waiting {
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

const DEFAULT_MAX_QUEUE_BYTES = 256 * 2 ** 20;
/** The outbox is posted when it holds this many operations or bytes (or at the end of the event-loop turn). */
const OUTBOX_MAX_COUNT = 64;
const OUTBOX_MAX_BYTES = 2 * 2 ** 20;
/** The queue is bounded by bytes; the count bound only guards against floods of tiny snapshots. */
const DEFAULT_MAX_QUEUE_COUNT = 65_536;

export class WriterQueue {
  private seq = 0;
  private readonly waiting: Waiting[] = [];
  private readonly pending = new Map<number, Pending>();
  private inflightBytes = 0;
  private inflightCount = 0;
  private undelivered: StoreError[] = [];
  /** See StoreStatus. */
  status: StoreStatus = 'open';
  /** Why the store failed (status 'failed'). */
  failure: StoreError | undefined;
  private warnedFull = false;
  private readonly printed = new Set<string>();
  private readonly maxBytes: number;
  private readonly maxCount: number;
  private readonly counters = { accepted: 0, committed: 0, failed: 0 };
  private referenced = true;
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

  constructor(
    /** Absolute path of the database file (for messages). */
    private readonly path: string,
    private readonly writer: Worker,
    /** The writer thread's acknowledgements and fatal errors (see drain). */
    private readonly replies: MessagePort,
    private readonly options: StoreOptions,
    /** Gives back the memory of a payload once the writer is done with it. */
    private readonly release: (slab: Slab) => void,
    /** Called when the writer thread is gone (the store stops its other threads). */
    private readonly onFailed: () => void,
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
   * Takes the writer's replies that have arrived, without waiting for the event loop. \`model.fit\` with only
   * tf.Callback subclasses never returns to the event loop until it ends (every await of its loop is a
   * microtask on the cpu and wasm backends), so a reply handled only by a 'message' listener would wait for
   * the end of training: a writeScalars() would stay unsettled for the whole fit, and write() would find the
   * queue full once its committed snapshots went unacknowledged. Every call into the store drains first.
   */
  drain(): void {
    for (let m = receiveMessageOnPort(this.replies); m !== undefined; m = receiveMessageOnPort(this.replies))
      this.onReply(m.message as OutMessage);
  }

  private onReply(msg: OutMessage): void {
    if (msg.type === 'fatal') this.die(deserializeError(msg.error));
    else if (msg.type === 'acks') this.onAcks(msg.results);
  }

  /** See Store.stats. */
  stats(): StoreStats {
    this.drain();
    return {
      ...this.counters,
      queuedBytes: this.inflightBytes,
      queuedCount: this.inflightCount,
      waiting: this.waiting.filter((w) => w.kind === 'write').length,
    };
  }

  /** Why an operation is refused now (closed, failed, or an earlier write's failure to report), if it is. */
  refusal(): StoreError | undefined {
    if (this.status === 'failed') return this.failure;
    if (this.status !== 'open')
      return new StoreError('ECLOSED', `${this.path}: the store is closed`, { file: this.path });
    return this.takeUndelivered();
  }

  takeUndelivered(): StoreError | undefined {
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

  /** Queues an operation; it leaves the waiting line (is made and posted) when there is room. */
  enqueue<T = void>(w: Omit<Waiting, 'resolve' | 'reject'>): Promise<T> {
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
      if (p.slab) this.release(p.slab);
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
  die(error: StoreError): void {
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
    this.onFailed();
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
