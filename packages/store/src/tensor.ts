// Decoding the tensor encoding (see @gradscope/capture's arrow.ts for the format and the encoder), with
// damage reported as StoreError ECORRUPT naming the file and snapshot. The codec comes from the
// '@gradscope/capture/arrow' entry, which does not load tfjs (the writer threads import this file).
import {
  EXTENSION_METADATA_KEY,
  EXTENSION_NAME_KEY,
  product,
  SNAPSHOT_METADATA_KEY,
  type SnapshotMeta,
  TENSOR_EXTENSION_NAME,
  type TensorType,
} from '@gradscope/capture/arrow';
import {
  type Data,
  DataType,
  type Field,
  type Float,
  type Float32,
  Precision,
  type Table,
  tableFromIPC,
} from 'apache-arrow';
import { StoreError } from './errors.js';
import type { DecodedTensor, Kind, Snapshot } from './types.js';
import { KIND_SET } from './validate.js';

/** The shape and dim names of a fixed_shape_tensor field, or undefined when the field is not one. */
export function tensorFieldInfo(field: Field): { shape: number[]; dims: string[] } | undefined {
  if (field.metadata.get(EXTENSION_NAME_KEY) !== TENSOR_EXTENSION_NAME) return undefined;
  let parsed: { shape?: unknown; dim_names?: unknown };
  try {
    parsed = JSON.parse(field.metadata.get(EXTENSION_METADATA_KEY) ?? '{}');
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed.shape) || !parsed.shape.every((d) => Number.isInteger(d) && d >= 0))
    return undefined;
  const shape = parsed.shape as number[];
  const dims = Array.isArray(parsed.dim_names) ? (parsed.dim_names as unknown[]).map(String) : [];
  return { shape, dims };
}

/** The float32 values of row `row` of a fixed_shape_tensor column chunk (a view). */
export function tensorRowValues(list: Data, row: number): { child: Data<Float32>; values: Float32Array } {
  const child = list.children[0] as Data<Float32>;
  const size = (list.type as TensorType).listSize;
  const start = (list.offset + row) * size - child.offset;
  const values = (child.values as Float32Array).subarray(child.offset + start, child.offset + start + size);
  return { child, values };
}

function corrupt(where: string, why: string, cause?: unknown, file?: string): StoreError {
  return new StoreError('ECORRUPT', `${where}: damaged tensor payload: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
    ...(file === undefined ? {} : { file }),
  });
}

/**
 * Decodes a payload made by encodeTensor. Throws a StoreError ECORRUPT naming `where` (e.g. the file and
 * snapshot id) when the bytes are truncated or not such a payload.
 */
export function decodeTensor(bytes: Uint8Array, where = 'payload', file?: string): DecodedTensor {
  try {
    return decode(bytes, where);
  } catch (err) {
    if (err instanceof StoreError && file !== undefined && err.file === undefined) {
      throw corrupt(where, err.message.replace(/^.*?damaged tensor payload: /, ''), err.cause, file);
    }
    throw err;
  }
}

function decode(bytes: Uint8Array, where: string): DecodedTensor {
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw corrupt(where, `not a readable Arrow IPC stream (${(err as Error).message})`, err);
  }
  const index = table.schema.fields.findIndex((f) => tensorFieldInfo(f) !== undefined);
  if (index < 0) throw corrupt(where, `no ${TENSOR_EXTENSION_NAME} column in the Arrow schema`);
  const field = table.schema.fields[index]!;
  const info = tensorFieldInfo(field)!;
  const type = field.type as TensorType;
  const valueType = type.children?.[0]?.type;
  if (
    !DataType.isFixedSizeList(type) ||
    !DataType.isFloat(valueType) ||
    (valueType as Float).precision !== Precision.SINGLE
  ) {
    throw corrupt(where, `column '${field.name}' is not FixedSizeList<float32>`);
  }
  const size = product(info.shape);
  if (type.listSize !== size) {
    throw corrupt(where, `list size ${type.listSize} does not match shape [${info.shape.join(', ')}]`);
  }
  if (table.numRows !== 1) throw corrupt(where, `expected 1 row, found ${table.numRows} (truncated?)`);
  const column = table.getChildAt(index)!;
  const list = column.data.find((d) => d.length > 0)!;
  const { values } = tensorRowValues(list, 0);
  if (values.length !== size) {
    throw corrupt(where, `holds ${values.length} of ${size} values (truncated?)`);
  }
  const decoded: DecodedTensor = { shape: info.shape, dims: info.dims, data: values };
  const metaText = table.schema.metadata.get(SNAPSHOT_METADATA_KEY);
  if (metaText !== undefined) {
    try {
      decoded.meta = JSON.parse(metaText) as SnapshotMeta;
    } catch (err) {
      throw corrupt(where, `schema metadata '${SNAPSHOT_METADATA_KEY}' is not JSON`, err);
    }
  }
  return decoded;
}

/**
 * A Snapshot from an Arrow IPC payload that carries `gradscope:snapshot` metadata (the remote-ingest body).
 * Throws StoreError EINVAL when the metadata is missing or malformed.
 */
export function snapshotFromIpc(bytes: Uint8Array, where = 'payload'): Snapshot {
  const t = decodeTensor(bytes, where);
  const m = t.meta as Partial<SnapshotMeta> | undefined;
  const bad = (why: string) => new StoreError('EINVAL', `${where}: ${why}`);
  if (!m || typeof m !== 'object') throw bad(`schema metadata '${SNAPSHOT_METADATA_KEY}' is missing`);
  for (const key of ['run', 'layer', 'layerClass'] as const) {
    if (typeof m[key] !== 'string' || m[key] === '') throw bad(`'${key}' must be a non-empty string`);
  }
  for (const key of ['iteration', 'epoch', 'batch', 'nonFinite'] as const) {
    if (!Number.isInteger(m[key]) || (m[key] as number) < 0) throw bad(`'${key}' must be an integer >= 0`);
  }
  if (!KIND_SET.has(m.kind as Kind)) throw bad(`'kind' must be one of ${[...KIND_SET].join(', ')}`);
  const loss = m.loss === null ? Number.NaN : m.loss;
  if (typeof loss !== 'number') throw bad(`'loss' must be a number`);
  if (typeof m.time !== 'number') throw bad(`'time' must be a number`);
  const snapshot: Snapshot = {
    run: m.run!,
    iteration: m.iteration!,
    epoch: m.epoch!,
    batch: m.batch!,
    layer: m.layer!,
    layerClass: m.layerClass!,
    kind: m.kind!,
    shape: t.shape,
    dims: t.dims as Snapshot['dims'],
    data: t.data,
    loss,
    time: m.time,
    nonFinite: m.nonFinite!,
  };
  if (typeof m.part === 'string') snapshot.part = m.part;
  if (Array.isArray(m.channelParts)) snapshot.channelParts = m.channelParts.map(String);
  return snapshot;
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
} from '@gradscope/capture/arrow';
