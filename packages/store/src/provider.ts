// The data-provider interfaces: what the server, the export, the doctor and the CLI use of a store. The
// SQLite store implements them (Reader, Store); another backend (PostgreSQL) implements the same. Nothing
// here names SQLite: a run is named by id or name, a snapshot by its id, a series by a SeriesKey.
import type {
  DecodedTensor,
  FlowMatrix,
  HistogramSeries,
  Kind,
  LayerInfo,
  RunDetails,
  RunInfo,
  RunRecord,
  ScalarPoint,
  ScalarSeries,
  SeriesIndex,
  Sink,
  Snapshot,
  SnapshotInfo,
  SnapshotSummary,
  WrittenRunStatus,
} from '@gradscope/format';
import type { SnapshotQuery } from './types.js';

/**
 * A value, or a promise of it. Every RunReader method returns one, so its callers always `await`: the SQLite
 * reader answers at once (a file on this machine), a network database with a promise.
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * Names one series: run (id or name), layer, kind and part. A missing `part` is the whole layer output, the
 * same as `null`, on every series query (flowMatrix, histogramSeries, seriesIndex).
 */
export interface SeriesKey {
  run: string;
  layer: string;
  kind: Kind;
  part?: string | null;
}

/** How many rows a series query returns. */
export interface SeriesOptions {
  /**
   * At most this many rows, evenly spaced over the recorded ones (the first and the last always among them);
   * default: every row.
   */
  maxRows?: number;
}

/** How many points RunReader.scalars returns per name. */
export interface ScalarsOptions {
  /** At most this many points per name (≥ 4), keeping first, last, min and max of each bucket; default all. */
  maxPoints?: number;
  /** Only these names. */
  names?: string[];
}

/**
 * What `tagRun` changes of a run: `group` replaces its group (null removes it); the keys of `params` are
 * set over those stored, a null value removing its key (a JSON merge patch of the top level).
 */
export interface RunTag {
  group?: string | null;
  params?: Record<string, unknown>;
}

/** Retention for long runs (RunWriter.compact). */
export interface CompactPolicy {
  /** Keep every N-th iteration after the first `keepFirst` (N ≥ 1; 1 keeps everything). */
  every: number;
  /** Iterations kept at the start of each run, whatever `every` says. Default 0. */
  keepFirst?: number;
  /** Iterations always kept. */
  keep?: number[];
  /** Runs (ids or names) to compact; default every run. */
  runs?: string[];
}

/** What compact() did. */
export interface CompactResult {
  /** Runs compacted. */
  runs: number;
  snapshotsRemoved: number;
  snapshotsKept: number;
  /** Storage size before and after, bytes. */
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * The read side of a store: the data provider of the server's routes, the export and the doctor. Every
 * query sees the latest committed state, also while a trainer writes. Runs are named by id or by name (a
 * name means the most recently started run of that name); an unknown run or series rejects with
 * NotFoundError (ENOTFOUND), where the method says so. Series come back downsampled by the provider
 * (`maxRows`, `maxPoints`), not by the caller.
 */
export interface RunReader {
  /** Where the data lives, for messages (the SQLite reader: the file's absolute path). */
  readonly path: string;
  /** Every run, newest first. */
  listRuns(): Awaitable<RunRecord[]>;
  /** A run with its model summary and capture options; undefined when none matches. */
  getRun(run: string): Awaitable<RunDetails | undefined>;
  /** getRun, or NotFoundError when no run matches. */
  requireRun(run: string): Awaitable<RunDetails>;
  /** The layers of a run with their kinds, parts and iterations. NotFoundError for an unknown run. */
  listLayers(run: string): Awaitable<LayerInfo[]>;
  /** The snapshot index with whole-tensor summaries, by iteration then id (see SnapshotQuery). */
  listSnapshots(query: SnapshotQuery): Awaitable<SnapshotInfo[]>;
  /** Snapshots stored after snapshot id `afterId` (any run), in id order, at most `limit` (default 1,000). */
  snapshotsAfter(afterId: number, limit?: number): Awaitable<SnapshotInfo[]>;
  /** A number that changes whenever anything is committed: cheap polling for live updates and caches. */
  dataVersion(): Awaitable<number>;
  getSnapshot(id: number): Awaitable<SnapshotInfo | undefined>;
  /** The full write-time summary of a snapshot (per-part summaries too); undefined for an unknown id. */
  getSummary(id: number): Awaitable<SnapshotSummary | undefined>;
  /** The snapshot's Arrow IPC stream as stored (to send as-is). NotFoundError; ECORRUPT when damaged. */
  getTensor(id: number): Awaitable<Uint8Array>;
  /** getTensor decoded: shape, dims and a Float32Array view of the values. */
  readTensor(id: number): Awaitable<DecodedTensor>;
  /** Per-timestep L2 norms of a series over its iterations (no tensor read). NotFoundError. */
  flowMatrix(key: SeriesKey, options?: SeriesOptions): Awaitable<FlowMatrix>;
  /** The histograms of a series over its iterations, with percentiles. NotFoundError. */
  histogramSeries(key: SeriesKey, options?: SeriesOptions): Awaitable<HistogramSeries>;
  /** The snapshot index of a series as typed-array columns. NotFoundError. */
  seriesIndex(key: SeriesKey, options?: SeriesOptions): Awaitable<SeriesIndex>;
  /** The training scalars of a run, one series per name (sorted by name), in iteration order. */
  scalars(run: string, options?: ScalarsOptions): Awaitable<ScalarSeries[]>;
  /**
   * Optional: calls `onChange` soon after anything is committed, by any writer of the store, so that live
   * updates need not wait for the next dataVersion() poll (PostgreSQL: LISTEN/NOTIFY, whichever server
   * wrote). Returns the function that stops it. A backend without it is polled.
   */
  watch?(onChange: () => void): () => void;
  /** 'ok', or the problems the backend's own consistency check finds. */
  integrityCheck(): Awaitable<string>;
  close(): Awaitable<void>;
}

/**
 * The write side of a store: the capture's Sink plus run management and retention. Every method settles
 * when the operation is committed, except write(), which may resolve on acceptance (see the backend's
 * `durable` option); flush() resolves when everything accepted before it is committed.
 */
export interface RunWriter extends Sink {
  /** Where the data lives, for messages (the SQLite store: the file's absolute path). */
  readonly path: string;
  write(snapshot: Snapshot): Promise<void>;
  /** Records (or re-opens) a run. */
  startRun(run: RunInfo): Promise<void>;
  /** Records a run's end status, at `endedAt` (ms since the epoch; default now). */
  endRun(runId: string, status: WrittenRunStatus, endedAt?: number): Promise<void>;
  /** Training scalars of a run. */
  writeScalars(run: string, points: ScalarPoint[]): Promise<void>;
  /** Renames a run (by id or name). ENOTFOUND. */
  renameRun(run: string, name: string): Promise<void>;
  /** Sets keys of a run's `meta`, nothing else of the run. ENOTFOUND. */
  updateRunMeta(run: string, meta: Record<string, unknown>): Promise<void>;
  /** Sets a run's group and parameters (see RunTag). ENOTFOUND. */
  tagRun(run: string, tag: RunTag): Promise<void>;
  /** Deletes a run with everything recorded of it. ENOTFOUND. */
  deleteRun(run: string): Promise<void>;
  /** Keeps some iterations of long runs and removes the other snapshots (scalars stay). */
  compact(policy: CompactPolicy): Promise<CompactResult>;
  /** Gives the space of removed data back to the file system. */
  vacuum(): Promise<void>;
  flush(): Promise<void>;
  /** Flushes, then releases the backend. Idempotent. */
  close(): Promise<void>;
}
