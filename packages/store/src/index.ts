// @gradscope/store: the store of record for gradscope snapshots, on SQLite (a file) or PostgreSQL.

export type { SeriesIndex } from '@gradscope/format';
export { diagnoseReader, diagnoseRun, observeRun } from './diagnosis.js';
export { NotFoundError, type NotFoundSubject, StoreError, type StoreErrorCode } from './errors.js';
export {
  bucketOf,
  HISTOGRAM_BUCKETS,
  HISTOGRAM_EDGES,
  HISTOGRAM_MAX_EXP,
  HISTOGRAM_MIN_EXP,
  histogramPercentiles,
  PERCENTILES,
} from './histogram.js';
export { HEARTBEAT_MS, STALE_AFTER_MS } from './liveness.js';
export { checkFile } from './maintenance.js';
export { isPostgresUrl, type PostgresUrl, shownUrl } from './postgres/connection.js';
export type { PostgresReader, PostgresReaderOptions } from './postgres/reader.js';
export { PG_SCHEMA_VERSION } from './postgres/schema.js';
export type {
  Awaitable,
  CompactPolicy,
  CompactResult,
  RunReader,
  RunTag,
  RunWriter,
  ScalarsOptions,
  SeriesKey,
  SeriesOptions,
} from './provider.js';
export { openReader, openRunReader, Reader, type ReaderOptions } from './reader.js';
export { APPLICATION_ID, SCHEMA_VERSION } from './sqlite.js';
export { openStore, Store, type StoreOptions, type StoreStats, type StoreStatus } from './store.js';
export { summarize } from './summary.js';
export { snapshotFromIpc } from './tensor.js';
export type * from './types.js';
