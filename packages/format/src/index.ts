// @gradscope/format: the one definition of gradscope's data: kinds, records, the HTTP bodies, the Arrow
// snapshot codec and the base64 matrix codec. Browser-safe: no tfjs, no Node built-ins.
export {
  ARROW_STREAM_TYPE,
  type ByteAllocator,
  ChunkCollector,
  collectingWriter,
  concatChunks,
  countNonFinite,
  decodeSnapshot,
  decodeTensor,
  EXTENSION_METADATA_KEY,
  EXTENSION_NAME_KEY,
  encodeSnapshot,
  encodeTensor,
  MAX_SNAPSHOT_INDEX,
  MAX_SNAPSHOT_TIME,
  PayloadError,
  product,
  SNAPSHOT_METADATA_KEY,
  snapshotMeta,
  TENSOR_EXTENSION_NAME,
  type TensorType,
  tensorData,
  tensorField,
  tensorFieldInfo,
  tensorRowValues,
  tensorStorageType,
} from './arrow.js';
export {
  CAUSES,
  type Cause,
  DIAGNOSIS_RULES,
  type DoctorReport,
  decisiveReach,
  describeDiagnosis,
  diagnose,
  type Evidence,
  formatNumber,
  type IterationObservation,
  type IterationVerdict,
  type LayerDiagnosis,
  type LayerObservations,
  type LossBaseline,
  lastAxisNorms,
  type NormProfile,
  type ReachEvidence,
  type RunDiagnosis,
  type RunObservations,
  reachOf,
  saturatedShare,
  theilSen,
  timestepNorms,
  VERDICTS,
  type Verdict,
} from './diagnosis.js';
export {
  type GroupableRun,
  type GroupEvidence,
  groupRuns,
  groupValue,
  type RunGroup,
  type Spread,
  spread,
} from './groups.js';
export { HORIZON_FRACTION, type MemoryHorizon, memoryHorizon } from './horizon.js';
export {
  type Dim,
  isKind,
  KINDS,
  type Kind,
  RUN_STATUSES,
  type RunStatus,
  WRITTEN_RUN_STATUSES,
  type WrittenRunStatus,
} from './kinds.js';
export {
  decodeBase64,
  decodeMatrix,
  type EncodedMatrix,
  encodeBase64,
  encodeMatrix,
  type MatrixArray,
  type MatrixDtype,
  type MatrixJson,
  matrixValues,
} from './matrix.js';
export { checkOptions, closestName, editDistance, type OptionKeys } from './options.js';
export {
  AUTO_PARAMS,
  type AutoParam,
  checkGroup,
  checkParams,
  MAX_GROUP_LENGTH,
  paramText,
} from './params.js';
export type * from './records.js';
export type * from './routes.js';
export { DEFAULT_PORT, SERIES_COLUMNS } from './routes.js';
