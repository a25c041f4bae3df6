// @gradscope/store: the SQLite store of record for gradscope snapshots.
export { StoreError, type StoreErrorCode } from './errors.js';
export {
  type ExportFormat,
  type ExportGroup,
  type ExportLayout,
  type ExportOptions,
  type ExportProgress,
  type ExportResult,
  type ExportSelection,
  exportGroups,
  exportRun,
  exportRunToStream,
  type StreamExportOptions,
} from './export.js';
export {
  bucketOf,
  HISTOGRAM_BUCKETS,
  HISTOGRAM_EDGES,
  HISTOGRAM_MAX_EXP,
  HISTOGRAM_MIN_EXP,
  histogramPercentiles,
  PERCENTILES,
} from './histogram.js';
export { openReader, Reader, type ReaderOptions, type SeriesKey } from './reader.js';
export { APPLICATION_ID, openWriterDb, PAGE_SIZE, SCHEMA_VERSION } from './sqlite.js';
export { openStore, Store, type StoreOptions, type StoreStats } from './store.js';
export { summarize } from './summary.js';
export {
  decodeTensor,
  encodeTensor,
  SNAPSHOT_METADATA_KEY,
  snapshotFromIpc,
  TENSOR_EXTENSION_NAME,
  tensorField,
} from './tensor.js';
export type * from './types.js';
export { encodeSnapshot, SnapshotWriter } from './writer-db.js';
