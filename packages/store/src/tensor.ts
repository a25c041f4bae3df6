// The snapshot codec of @gradscope/format with damage reported as StoreError: ECORRUPT naming the file and
// snapshot, EINVAL for an ingest body whose snapshot fields are wrong. The writer threads import this file.
import { decodeTensor as decodePayload, decodeSnapshot, PayloadError } from '@gradscope/format';
import { StoreError } from './errors.js';
import type { DecodedTensor, Snapshot } from './types.js';

function storeError(err: unknown, file?: string): unknown {
  if (!(err instanceof PayloadError)) return err;
  return new StoreError(err.code, err.message, {
    ...(err.cause === undefined ? {} : { cause: err.cause }),
    ...(file === undefined ? {} : { file }),
  });
}

/**
 * Decodes a payload made by encodeTensor. Throws a StoreError ECORRUPT naming `where` (e.g. the file and
 * snapshot id) when the bytes are truncated or not such a payload.
 */
export function decodeTensor(bytes: Uint8Array, where = 'payload', file?: string): DecodedTensor {
  try {
    return decodePayload(bytes, where);
  } catch (err) {
    throw storeError(err, file);
  }
}

/**
 * A Snapshot from an Arrow IPC payload that carries `gradscope:snapshot` metadata (the remote-ingest body).
 * Throws StoreError EINVAL when the metadata is missing or malformed, ECORRUPT when the bytes are damaged.
 */
export function snapshotFromIpc(bytes: Uint8Array, where = 'payload'): Snapshot {
  try {
    return decodeSnapshot(bytes, where);
  } catch (err) {
    throw storeError(err);
  }
}

export {
  type ByteAllocator,
  collectingWriter,
  concatChunks,
  encodeSnapshot,
  encodeTensor,
  product,
  SNAPSHOT_METADATA_KEY,
  snapshotMeta,
  TENSOR_EXTENSION_NAME,
  tensorData,
  tensorField,
} from '@gradscope/format';
