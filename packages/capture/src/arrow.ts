// The snapshot codec lives in @gradscope/format; this module keeps the '@gradscope/capture/arrow' entry
// (no tfjs) working for code that imports it from here.
export {
  type ByteAllocator,
  ChunkCollector,
  collectingWriter,
  concatChunks,
  decodeSnapshot,
  decodeTensor,
  EXTENSION_METADATA_KEY,
  EXTENSION_NAME_KEY,
  encodeSnapshot,
  encodeTensor,
  product,
  SNAPSHOT_METADATA_KEY,
  type SnapshotMeta,
  snapshotMeta,
  TENSOR_EXTENSION_NAME,
  type TensorType,
  tensorData,
  tensorField,
  tensorStorageType,
} from '@gradscope/format';
