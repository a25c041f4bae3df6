// Sinks: MemorySink for tests and notebooks, and the guard that keeps a slow or failing sink from
// crashing or stalling training.
import type { RunInfo, RunStatus, ScalarPoint, Sink, Snapshot } from './types.js';

/**
 * Scalar points kept waiting for a sink that takes none (about 80 bytes each): a fit's steps for hours.
 * Beyond it the sink is not slow but stuck, and newer points are dropped and counted.
 */
const MAX_WAITING_SCALARS = 262_144;
/** Points handed to writeScalars in one call at most (an HttpSink sends 10,000 per request). */
const MAX_SCALARS_PER_BATCH = 10_000;

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
  /**
   * Scalar points lost: `writeScalars` threw or rejected (a full disk), or the sink took no batch for
   * `sinkTimeoutMs` when the fit ended (or while 262,144 points waited).
   */
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
  /** Scalar points read back and waiting for a free slot, in order. */
  private waitingScalars: { run: string; points: ScalarPoint[] }[] = [];
  private waitingPoints = 0;
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
   * Sends a batch of scalar points once they are read back, without the caller ever waiting. At most
   * `maxPendingWrites` batches are with the sink at once; points that arrive meanwhile wait here, in order,
   * and leave together as soon as a batch settles. A slow sink delays scalars, it does not lose them: only
   * a sink that fails (or one that took nothing while MAX_WAITING_SCALARS points piled up) loses any, and
   * those are counted in `scalarsDropped` and said once.
   */
  sendScalars(run: string, points: Promise<ScalarPoint[]>): void {
    if (this.sink.writeScalars === undefined) return;
    const work: Promise<void> = points
      .then((list) => {
        if (list.length === 0) return;
        if (this.waitingPoints + list.length > MAX_WAITING_SCALARS) {
          this.stats.scalarsDropped += list.length;
          this.warn(
            `sink writeScalars stalled: ${this.scalarWrites} batches pending and ${this.waitingPoints} points waiting; scalars are being dropped (training continues). See callback.stats.scalarsDropped.`,
          );
          return;
        }
        this.waitingScalars.push({ run, points: list });
        this.waitingPoints += list.length;
        this.pumpScalars();
      })
      .catch((err: unknown) => {
        // Reading the values back failed (a disposed tensor, a lost device): nothing to send.
        this.warn(`reading training scalars failed: ${errorText(err)}`);
      })
      .finally(() => this.scalarWork.delete(work));
    this.scalarWork.add(work);
  }

  /** Hands waiting points to the sink while it has free slots, each run's consecutive points as one batch. */
  private pumpScalars(): void {
    while (this.scalarWrites < this.options.maxPendingWrites && this.waitingScalars.length > 0) {
      const run = this.waitingScalars[0]!.run;
      const list: ScalarPoint[] = [];
      while (this.waitingScalars[0]?.run === run && list.length < MAX_SCALARS_PER_BATCH) {
        const next = this.waitingScalars[0];
        const room = MAX_SCALARS_PER_BATCH - list.length;
        if (next.points.length <= room) {
          this.waitingScalars.shift();
          for (const p of next.points) list.push(p);
        } else {
          for (const p of next.points.slice(0, room)) list.push(p);
          next.points = next.points.slice(room);
        }
      }
      this.waitingPoints -= list.length;
      this.scalarWrites++;
      const work: Promise<void> = Promise.resolve()
        .then(() => this.sink.writeScalars!(run, list))
        .then(
          () => {
            this.stats.scalarsWritten += list.length;
          },
          (err: unknown) => {
            this.stats.scalarsDropped += list.length;
            if (this.options.onSinkError === 'throw') this.failure ??= err;
            else
              this.warn(
                `sink writeScalars failed: ${errorText(err)}; scalars are being dropped (training continues). See callback.stats.scalarsDropped.`,
              );
          },
        )
        .finally(() => {
          this.scalarWrites--;
          this.scalarWork.delete(work);
          this.pumpScalars();
        });
      this.scalarWork.add(work);
    }
  }

  /** In 'throw' mode, throws the first failure of a scalar write (they happen off the training path). */
  check(): void {
    if (this.failure === undefined) return;
    const err = this.failure;
    this.failure = undefined;
    throw err;
  }

  /**
   * Waits, at most `sinkTimeoutMs` in all, for the writes and scalar batches in flight and the scalar points
   * waiting for a slot (batches sent while it waits are waited for too). Points still waiting then are
   * dropped and counted: the sink has not taken a batch for that long.
   */
  async flush(): Promise<void> {
    const deadline = Date.now() + this.options.sinkTimeoutMs;
    while (this.pending.size > 0 || this.scalarWork.size > 0) {
      const left = deadline - Date.now();
      const done = left > 0 && (await withTimeout(Promise.all([...this.pending, ...this.scalarWork]), left));
      if (done) continue;
      const waiting = this.waitingPoints;
      this.waitingScalars = [];
      this.waitingPoints = 0;
      this.stats.scalarsDropped += waiting;
      this.warn(
        waiting > 0
          ? `sink writeScalars stalled: ${this.scalarWrites} batches still pending after ${this.options.sinkTimeoutMs} ms; ${waiting} scalar points not handed over are dropped. See callback.stats.scalarsDropped.`
          : `${this.pending.size + this.scalarWork.size} sink writes still pending after ${this.options.sinkTimeoutMs} ms`,
      );
      return;
    }
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
