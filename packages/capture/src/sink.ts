// Sinks: MemorySink for tests and notebooks, and the guard that keeps a slow or failing sink from
// crashing or stalling training.
import type { RunInfo, RunStatus, ScalarPoint, Sink, Snapshot } from './types.js';

/** Keeps everything in memory. */
export class MemorySink implements Sink {
  readonly snapshots: Snapshot[] = [];
  /** Scalar points (fit logs, probe losses) in the order they arrived, with the run they belong to. */
  readonly scalars: (ScalarPoint & { run: string })[] = [];
  readonly runs: RunInfo[] = [];
  readonly status = new Map<string, RunStatus>();
  closed = false;

  async write(snapshot: Snapshot): Promise<void> {
    this.snapshots.push(snapshot);
  }

  async writeScalars(run: string, points: ScalarPoint[]): Promise<void> {
    for (const p of points) this.scalars.push({ run, ...p });
  }

  async startRun(run: RunInfo): Promise<void> {
    if (!this.runs.some((r) => r.id === run.id)) this.runs.push(run);
    this.status.set(run.id, 'running');
  }

  async endRun(runId: string, status: RunStatus): Promise<void> {
    this.status.set(runId, status);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Snapshots matching every given field. */
  find(query: Partial<Pick<Snapshot, 'layer' | 'kind' | 'part' | 'iteration' | 'run'>>): Snapshot[] {
    return this.snapshots.filter((s) =>
      Object.entries(query).every(([k, v]) => (s as unknown as Record<string, unknown>)[k] === v),
    );
  }
}

export interface SinkGuardOptions {
  /** 'warn': count failed or stalled writes as dropped and warn once. 'throw': let the error stop `fit`. */
  onSinkError: 'warn' | 'throw';
  /** Writes allowed in flight before a new one waits for a free slot. */
  maxPendingWrites: number;
  /** How long a new write waits for a free slot before it is dropped, in ms. */
  sinkTimeoutMs: number;
}

export interface SinkStats {
  /** Snapshots the sink took (and, for a sink that queues, has not reported lost since). */
  written: number;
  /**
   * Snapshots lost: the sink threw, rejected or stalled, or (for a sink that queues, such as a store or an
   * HttpSink) it accepted them and later reported them never stored (`sink.stats().failed`). Final once the sink
   * is flushed or closed.
   */
  dropped: number;
  /** Scalar points handed to the sink (`writeScalars`). */
  scalarsWritten: number;
  /** Scalar points lost because `writeScalars` threw, rejected or stalled. */
  scalarsDropped: number;
}

/**
 * Hands snapshots to a sink without letting it hold training hostage: writes run concurrently up to
 * `maxPendingWrites`; past that a write waits at most `sinkTimeoutMs` for a slot, then the snapshot
 * is dropped (and so are later ones while the slots stay full). Failures are counted and warned
 * about once.
 */
export class SinkGuard {
  readonly stats: SinkStats = { written: 0, dropped: 0, scalarsWritten: 0, scalarsDropped: 0 };
  private readonly pending = new Set<Promise<void>>();
  /** Scalar batches being read back or sent: training never waits for them. */
  private readonly scalarWork = new Set<Promise<void>>();
  private scalarWrites = 0;
  /** In 'throw' mode, a scalar write's failure, thrown at the next check(). */
  private failure: unknown;
  private warned = false;

  constructor(
    readonly sink: Sink,
    private readonly options: SinkGuardOptions,
  ) {}

  /** Calls an optional sink method (startRun/endRun) under the same protection. */
  async call(what: string, fn: () => Promise<void> | undefined): Promise<void> {
    if (this.options.onSinkError === 'throw') {
      await fn();
      return;
    }
    try {
      const done = await withTimeout(Promise.resolve().then(fn), this.options.sinkTimeoutMs);
      if (!done) this.warn(`sink ${what} did not finish within ${this.options.sinkTimeoutMs} ms`);
    } catch (err) {
      this.warn(`sink ${what} failed: ${errorText(err)}`);
    }
  }

  async write(snapshot: Snapshot): Promise<void> {
    if (this.options.onSinkError === 'throw') {
      await this.sink.write(snapshot);
      this.stats.written++;
      return;
    }
    if (this.pending.size >= this.options.maxPendingWrites) {
      const freed = await withTimeout(Promise.race(this.pending), this.options.sinkTimeoutMs);
      if (!freed || this.pending.size >= this.options.maxPendingWrites) {
        this.drop(
          `sink write stalled: ${this.pending.size} writes pending for over ${this.options.sinkTimeoutMs} ms`,
        );
        return;
      }
    }
    const write: Promise<void> = Promise.resolve()
      .then(() => this.sink.write(snapshot))
      .then(
        () => {
          this.stats.written++;
        },
        (err: unknown) => this.drop(`sink write failed: ${errorText(err)}`),
      )
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /**
   * Sends a batch of scalar points once they are read back, without the caller ever waiting: at most
   * `maxPendingWrites` batches go to the sink at once, a batch beyond that is dropped (and counted).
   */
  sendScalars(run: string, points: Promise<ScalarPoint[]>): void {
    const writeScalars = this.sink.writeScalars?.bind(this.sink);
    if (writeScalars === undefined) return;
    const work: Promise<void> = points
      .then(async (list) => {
        if (list.length === 0) return;
        if (this.scalarWrites >= this.options.maxPendingWrites) {
          this.stats.scalarsDropped += list.length;
          this.warn(
            `sink writeScalars stalled: ${this.scalarWrites} batches pending; scalars are being dropped (training continues). See callback.stats.scalarsDropped.`,
          );
          return;
        }
        this.scalarWrites++;
        try {
          await writeScalars(run, list);
          this.stats.scalarsWritten += list.length;
        } catch (err) {
          this.stats.scalarsDropped += list.length;
          if (this.options.onSinkError === 'throw') this.failure ??= err;
          else
            this.warn(
              `sink writeScalars failed: ${errorText(err)}; scalars are being dropped (training continues). See callback.stats.scalarsDropped.`,
            );
        } finally {
          this.scalarWrites--;
        }
      })
      .catch((err: unknown) => {
        // Reading the values back failed (a disposed tensor, a lost device): nothing to send.
        this.warn(`reading training scalars failed: ${errorText(err)}`);
      })
      .finally(() => this.scalarWork.delete(work));
    this.scalarWork.add(work);
  }

  /** In 'throw' mode, throws the first failure of a scalar write (they happen off the training path). */
  check(): void {
    if (this.failure === undefined) return;
    const err = this.failure;
    this.failure = undefined;
    throw err;
  }

  /** Waits for writes and scalar batches in flight, at most `sinkTimeoutMs`. */
  async flush(): Promise<void> {
    if (this.pending.size === 0 && this.scalarWork.size === 0) return;
    const done = await withTimeout(
      Promise.all([...this.pending, ...this.scalarWork]).then(() => undefined),
      this.options.sinkTimeoutMs,
    );
    if (!done)
      this.warn(
        `${this.pending.size + this.scalarWork.size} sink writes still pending after ${this.options.sinkTimeoutMs} ms`,
      );
  }

  private drop(reason: string): void {
    this.stats.dropped++;
    this.warn(
      `${reason}; snapshots are being dropped (training continues). See callback.stats.dropped for the count.`,
    );
  }

  private warn(message: string): void {
    if (this.warned) return;
    this.warned = true;
    console.warn(`gradscope: ${message}`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
