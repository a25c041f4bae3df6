// openReader: the SQLite implementation of RunReader, the data provider of the server's routes, the export,
// the doctor and the CLI. Read-only; safe to use while trainers write: each query sees the latest committed
// state. A facade: each method is one call into a module of read/ (runs, snapshots, series, scalars,
// payloads), which all share one ReadContext (the connection, its statements, the busy retry).
import type {
  DecodedTensor,
  FlowMatrix,
  HistogramSeries,
  LayerInfo,
  RunDetails,
  RunRecord,
  ScalarSeries,
  SeriesIndex,
  SnapshotInfo,
  SnapshotSummary,
} from '@gradscope/format';
import { fromSqlite } from './errors.js';
import { STALE_AFTER_MS } from './liveness.js';
import { isPostgresUrl, type PostgresUrl } from './postgres/connection.js';
import { openPostgresReader, type PostgresReader, type PostgresReaderOptions } from './postgres/reader.js';
import type { RunReader, ScalarsOptions, SeriesKey, SeriesOptions } from './provider.js';
import { ReadContext } from './read/context.js';
import { Payloads } from './read/payloads.js';
import { getRun, listLayers, listRuns, requireRun } from './read/runs.js';
import { ScalarPoints } from './read/scalars.js';
import { flowMatrix, histogramSeries, seriesIndex } from './read/series.js';
import { getSnapshot, getSummary, listSnapshots, snapshotsAfter } from './read/snapshots.js';
import { type Db, DEFAULT_BUSY_TIMEOUT_MS, openReaderDb, type ReaderDbOptions } from './sqlite.js';
import type { SnapshotQuery } from './types.js';

export interface ReaderOptions extends ReaderDbOptions {
  /**
   * A run left 'running' whose writer's heartbeat is older than this is reported 'interrupted', ms
   * (default 30 000). On the writer's own host a dead writer process is seen at once.
   */
  staleAfterMs?: number;
}

export class Reader implements RunReader {
  private readonly c: ReadContext;
  private readonly payloads: Payloads;
  private readonly points: ScalarPoints;

  /** @internal use openReader */
  constructor(db: Db, path: string, busyTimeoutMs: number, staleAfterMs = STALE_AFTER_MS) {
    this.c = new ReadContext(db, path, busyTimeoutMs, staleAfterMs);
    this.payloads = new Payloads(this.c);
    this.points = new ScalarPoints(this.c);
  }

  /** Absolute path of the database file. */
  get path(): string {
    return this.c.path;
  }

  /** Every run, newest first. */
  listRuns(): RunRecord[] {
    return listRuns(this.c);
  }

  /** A run by id, or by name (the most recently started run of that name). Undefined when none matches. */
  getRun(run: string): RunDetails | undefined {
    return getRun(this.c, run);
  }

  /** getRun, or a NotFoundError (ENOTFOUND, "no run with id or name …") when no run matches. */
  requireRun(run: string): RunDetails {
    return requireRun(this.c, run);
  }

  /** The layers of a run with their kinds, parts and iterations (no read of the snapshot rows). */
  listLayers(run: string): LayerInfo[] {
    return listLayers(this.c, run);
  }

  /**
   * The snapshot index with whole-tensor summaries, ordered by iteration then id. A filter: every field
   * given must match; `part: null` is the whole layer output, a missing part any part.
   */
  listSnapshots(query: SnapshotQuery): SnapshotInfo[] {
    return listSnapshots(this.c, query);
  }

  /** Snapshots stored after snapshot id `afterId` (any run), in id order: for live updates. */
  snapshotsAfter(afterId: number, limit = 1000): SnapshotInfo[] {
    return snapshotsAfter(this.c, afterId, limit);
  }

  /** Changes whenever another connection commits (SQLite's data_version): cheap polling for live updates. */
  dataVersion(): number {
    this.c.checkOpen();
    return this.c.q(
      'reading data_version',
      () => this.c.db.pragma('data_version', { simple: true }) as number,
    );
  }

  getSnapshot(id: number): SnapshotInfo | undefined {
    return getSnapshot(this.c, id);
  }

  /** The full write-time summary of a snapshot, with per-part summaries for bidirectional layers. */
  getSummary(id: number): SnapshotSummary | undefined {
    return getSummary(this.c, id);
  }

  /** The stored Arrow IPC bytes of a snapshot, as-is. NotFoundError; ECORRUPT when truncated. */
  getTensor(id: number): Uint8Array {
    return this.payloads.getTensor(id);
  }

  /** getTensor decoded: {shape, dims, data: Float32Array}. */
  readTensor(id: number): DecodedTensor {
    return this.payloads.readTensor(id);
  }

  /** Per-timestep L2 norms of one series over its iterations, at most `maxRows` rows. */
  flowMatrix(key: SeriesKey, options: SeriesOptions = {}): FlowMatrix {
    return flowMatrix(this.c, key, options);
  }

  /** The histograms of one series over its iterations, with percentiles, at most `maxRows` rows. */
  histogramSeries(key: SeriesKey, options: SeriesOptions = {}): HistogramSeries {
    return histogramSeries(this.c, key, options);
  }

  /** The snapshot index of one series as typed-array columns, at most `maxRows` rows. */
  seriesIndex(key: SeriesKey, options: SeriesOptions = {}): SeriesIndex {
    return seriesIndex(this.c, key, options);
  }

  /** The training scalars of a run, one series per name, at most `maxPoints` points each. */
  scalars(run: string, options: ScalarsOptions = {}): ScalarSeries[] {
    return this.points.scalars(run, options);
  }

  /** Runs SQLite's integrity check; returns 'ok' or the problems found. */
  integrityCheck(): string {
    this.c.checkOpen();
    return this.c.q('checking integrity', () =>
      (this.c.db.pragma('integrity_check') as { integrity_check: string }[])
        .map((r) => r.integrity_check)
        .join('\n'),
    );
  }

  close(): void {
    if (this.c.closed) return;
    this.c.close();
    this.payloads.close();
    try {
      this.c.db.close();
    } catch (err) {
      throw fromSqlite(err, this.path, 'closing the database');
    }
  }
}

/**
 * Opens an existing gradscope database read-only. Throws a StoreError naming the file and the cause:
 * EPATH / ENOENT (bad or missing path), ENOTDB (not a gradscope database), ENEWER (newer schema), EOLDER
 * (an older schema: open it once with openStore to migrate it).
 */
export function openReader(url: PostgresUrl, options?: PostgresReaderOptions): PostgresReader;
export function openReader(path: string, options?: ReaderOptions): Reader;
export function openReader(
  path: string,
  options: ReaderOptions | PostgresReaderOptions = {},
): Reader | PostgresReader {
  if (isPostgresUrl(path)) return openPostgresReader(path, options as PostgresReaderOptions);
  const o = options as ReaderOptions;
  const { db, file } = openReaderDb(path, o);
  return new Reader(db, file, o.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, o.staleAfterMs);
}

/**
 * Opens a reader on a store file or, for a `postgres://` URL, on a store in PostgreSQL: what a caller
 * holding either (a command-line argument) uses, typed by the interface both implement.
 */
export function openRunReader(
  target: string,
  options: ReaderOptions | PostgresReaderOptions = {},
): RunReader {
  return isPostgresUrl(target)
    ? openPostgresReader(target, options as PostgresReaderOptions)
    : openReader(target, options as ReaderOptions);
}
