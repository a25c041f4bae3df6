// The read side on PostgreSQL: RunReader over a connection pool. A facade, as the SQLite reader is: each
// method is one call into a module (read-runs, read-snapshots, read-series, read-scalars; watch for the
// change notifications), which share one PgReadContext. Rows come back in the SQLite schema's row shapes
// (schema.ts there), so the records are made by the SQLite reader's own converters (read/*.ts).
import { checkOptions, type OptionKeys } from '@gradscope/format';
import { StoreError } from '../errors.js';
import { STALE_AFTER_MS } from '../liveness.js';
import type { RunReader, ScalarsOptions, SeriesKey, SeriesOptions } from '../provider.js';
import type { SnapshotQuery } from '../types.js';
import { PgReadContext } from './read-context.js';
import { getRun, listLayers, listRuns, requireRun } from './read-runs.js';
import { scalars } from './read-scalars.js';
import { flowMatrix, histogramSeries, seriesIndex } from './read-series.js';
import * as snapshots from './read-snapshots.js';
import { Watchers } from './watch.js';

export interface PostgresReaderOptions {
  /** A 'running' run whose writer's heartbeat is older than this is reported 'interrupted', ms (default 30 000). */
  staleAfterMs?: number;
  /** Connections of the reader's pool at most (default 10). */
  maxConnections?: number;
}

const READER_OPTIONS = {
  staleAfterMs: true,
  maxConnections: true,
} as const satisfies OptionKeys<PostgresReaderOptions>;

export class PostgresReader implements RunReader {
  private readonly c: PgReadContext;
  private readonly watchers: Watchers;

  /** @internal use openReader('postgres://…') */
  constructor(url: string, options: PostgresReaderOptions = {}) {
    this.c = new PgReadContext(url, options.staleAfterMs ?? STALE_AFTER_MS, options.maxConnections ?? 10);
    this.watchers = new Watchers(url);
  }

  /** The database's URL without its password. */
  get path(): string {
    return this.c.path;
  }

  listRuns() {
    return listRuns(this.c);
  }

  getRun(run: string) {
    return getRun(this.c, run);
  }

  requireRun(run: string) {
    return requireRun(this.c, run);
  }

  listLayers(run: string) {
    return listLayers(this.c, run);
  }

  listSnapshots(query: SnapshotQuery) {
    return snapshots.listSnapshots(this.c, query);
  }

  snapshotsAfter(afterId: number, limit = 1000) {
    return snapshots.snapshotsAfter(this.c, afterId, limit);
  }

  /** gradscope.state's version: every write transaction of every server raises it. */
  dataVersion() {
    return snapshots.dataVersion(this.c);
  }

  getSnapshot(id: number) {
    return snapshots.getSnapshot(this.c, id);
  }

  getSummary(id: number) {
    return snapshots.getSummary(this.c, id);
  }

  getTensor(id: number) {
    return snapshots.getTensor(this.c, id);
  }

  readTensor(id: number) {
    return snapshots.readTensor(this.c, id);
  }

  flowMatrix(key: SeriesKey, options: SeriesOptions = {}) {
    return flowMatrix(this.c, key, options);
  }

  histogramSeries(key: SeriesKey, options: SeriesOptions = {}) {
    return histogramSeries(this.c, key, options);
  }

  seriesIndex(key: SeriesKey, options: SeriesOptions = {}) {
    return seriesIndex(this.c, key, options);
  }

  scalars(run: string, options: ScalarsOptions = {}) {
    return scalars(this.c, run, options);
  }

  /** 'ok', or the snapshots whose payload or summary is missing or of the wrong length. */
  integrityCheck() {
    return snapshots.integrityCheck(this.c);
  }

  /**
   * Calls `onChange` after every write transaction any writer commits to the database (reconnecting after
   * the server restarts; see watch.ts). Returns the function that stops it.
   */
  watch(onChange: () => void): () => void {
    return this.watchers.watch(onChange);
  }

  async close(): Promise<void> {
    if (this.c.closed) return;
    this.c.closed = true;
    this.watchers.close();
    await this.c.pool.end();
  }
}

/** Opens a reader on the gradscope store in a PostgreSQL database; nothing connects until the first query. */
export function openPostgresReader(url: string, options: PostgresReaderOptions = {}): PostgresReader {
  checkOptions(options, READER_OPTIONS, 'openReader', (message) => new StoreError('EINVAL', message));
  return new PostgresReader(url, options);
}
