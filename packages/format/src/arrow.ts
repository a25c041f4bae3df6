// The snapshot codec, encoder beside decoder. A payload is an Arrow IPC stream of one record batch with one
// row and one column `tensor` of the canonical `arrow.fixed_shape_tensor` extension type (storage
// FixedSizeList<float32>[product(shape)]), the snapshot's other fields as JSON in the schema metadata
// `gradscope:snapshot`. pyarrow reads the column back as an n-dimensional array. The store keeps these bytes
// as they are, HttpSink posts them, the viewer decodes them. Values go in and come out as views: nothing is
// copied number by number.
import {
  AsyncByteQueue,
  type Data,
  DataType,
  Field,
  FixedSizeList,
  type Float,
  Float32,
  makeData,
  Precision,
  RecordBatch,
  RecordBatchStreamWriter,
  type RecordBatchWriter,
  Schema,
  Struct,
  type Table,
  type TypeMap,
  tableFromIPC,
} from 'apache-arrow';
import { isKind, KINDS } from './kinds.js';
import type { DecodedTensor, Snapshot, SnapshotMeta } from './records.js';

export const TENSOR_EXTENSION_NAME = 'arrow.fixed_shape_tensor';
export const EXTENSION_NAME_KEY = 'ARROW:extension:name';
export const EXTENSION_METADATA_KEY = 'ARROW:extension:metadata';
/** Schema metadata key of a payload: the snapshot's other fields as JSON. */
export const SNAPSHOT_METADATA_KEY = 'gradscope:snapshot';
/** Media type of a payload (POST /api/ingest, GET /api/snapshots/:id/tensor). */
export const ARROW_STREAM_TYPE = 'application/vnd.apache.arrow.stream';

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export type TensorType = FixedSizeList<Float32>;

// ---- Encoding ----

/** FixedSizeList<float32>[size]; the child field is nullable 'item' as pyarrow's `pa.fixed_shape_tensor` storage. */
export function tensorStorageType(size: number): TensorType {
  return new FixedSizeList(size, new Field('item', new Float32(), true));
}

/** A field of the `arrow.fixed_shape_tensor` extension type. */
export function tensorField(
  name: string,
  shape: readonly number[],
  dims: readonly string[],
): Field<TensorType> {
  const metadata = new Map([
    [EXTENSION_NAME_KEY, TENSOR_EXTENSION_NAME],
    [EXTENSION_METADATA_KEY, JSON.stringify({ shape, dim_names: dims })],
  ]);
  return new Field(name, tensorStorageType(product(shape)), false, metadata);
}

/** Data of `rows` tensors whose values lie back to back in `values` (a view is kept, not a copy). */
export function tensorData(type: TensorType, values: Float32Array, rows: number): Data<TensorType> {
  const child = makeData({ type: type.children[0]!.type, length: values.length, nullCount: 0, data: values });
  return makeData({ type, length: rows, nullCount: 0, child });
}

/** An AsyncByteQueue that just keeps the chunks an Arrow writer hands it, so they can be taken synchronously. */
export class ChunkCollector extends AsyncByteQueue {
  chunks: Uint8Array[] = [];
  bytes = 0;
  override write(value: Uint8Array | ArrayBufferView | ArrayBufferLike): void {
    const chunk =
      value instanceof Uint8Array
        ? value
        : ArrayBuffer.isView(value)
          ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
          : new Uint8Array(value as ArrayBuffer);
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
  }
  /** Removes and returns the chunks written so far. */
  take(): Uint8Array[] {
    const out = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    return out;
  }
}

/** A writer whose output is collected synchronously (see ChunkCollector). */
export function collectingWriter<W extends RecordBatchWriter<TypeMap>>(writer: W): [W, ChunkCollector] {
  const collector = new ChunkCollector();
  writer.reset(collector);
  return [writer, collector];
}

/** Allocates the output of concatChunks; may return recycled (non-zeroed) memory: every byte is overwritten. */
export type ByteAllocator = (size: number) => Uint8Array;

export function concatChunks(chunks: Uint8Array[], alloc?: ByteAllocator): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const out = alloc ? alloc(total) : new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Encodes one tensor (and optionally the snapshot's other fields) as an Arrow IPC stream: the values are
 * copied once, into the result (allocated by `alloc` when given).
 */
export function encodeTensor(
  data: Float32Array,
  shape: readonly number[],
  dims: readonly string[],
  meta?: SnapshotMeta,
  alloc?: ByteAllocator,
): Uint8Array {
  const field = tensorField('tensor', shape, dims);
  const schema = new Schema(
    [field],
    meta ? new Map([[SNAPSHOT_METADATA_KEY, JSON.stringify(meta)]]) : undefined,
  );
  const column = tensorData(field.type, data, 1);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children: [column] }),
  );
  const [writer, collector] = collectingWriter(new RecordBatchStreamWriter());
  writer.write(batch);
  writer.close();
  return concatChunks(collector.take(), alloc);
}

/** The snapshot fields besides the tensor. */
export function snapshotMeta(s: Snapshot): SnapshotMeta {
  const meta: SnapshotMeta = {
    run: s.run,
    iteration: s.iteration,
    epoch: s.epoch,
    batch: s.batch,
    layer: s.layer,
    layerClass: s.layerClass,
    kind: s.kind,
    loss: s.loss,
    time: s.time,
    nonFinite: s.nonFinite,
  };
  if (s.part !== undefined) meta.part = s.part;
  if (s.channelParts !== undefined) meta.channelParts = s.channelParts;
  return meta;
}

/** One snapshot as an Arrow IPC stream (the body of POST /api/ingest, and the store's payload). */
export function encodeSnapshot(snapshot: Snapshot, alloc?: ByteAllocator): Uint8Array {
  return encodeTensor(snapshot.data, snapshot.shape, snapshot.dims, snapshotMeta(snapshot), alloc);
}

// ---- Decoding ----

/**
 * A payload that cannot be decoded. `code` 'ECORRUPT': the bytes are not such a payload (truncated,
 * damaged, another Arrow schema); 'EINVAL': a readable payload whose snapshot fields are missing or wrong
 * (decodeSnapshot). The message starts with `where`.
 */
export class PayloadError extends Error {
  override name = 'PayloadError';
  constructor(
    readonly code: 'ECORRUPT' | 'EINVAL',
    readonly where: string,
    /** The message without `where`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${where}: ${code === 'ECORRUPT' ? 'damaged tensor payload: ' : ''}${reason}`, options);
  }
}

const corrupt = (where: string, why: string, cause?: unknown) =>
  new PayloadError('ECORRUPT', where, why, cause === undefined ? undefined : { cause });

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
  const dims = Array.isArray(parsed.dim_names)
    ? (parsed.dim_names as unknown[]).map(String)
    : shape.map((_, i) => `axis${i}`);
  return { shape, dims };
}

/** The float32 values of row `row` of a fixed_shape_tensor column chunk (a view). */
export function tensorRowValues(list: Data, row: number): { child: Data<Float32>; values: Float32Array } {
  const child = list.children[0] as Data<Float32>;
  const size = (list.type as TensorType).listSize;
  // Arrow slices a FixedSizeList's child along with it: the list's offset counts in rows of the child.
  const start = (list.offset + row) * size - child.offset;
  const values = (child.values as Float32Array).subarray(child.offset + start, child.offset + start + size);
  return { child, values };
}

/**
 * Decodes a payload made by encodeTensor / encodeSnapshot: shape and dims from the extension metadata,
 * `data` a view into `bytes`, `meta` when the payload carries it. Throws a PayloadError ECORRUPT naming
 * `where` when the bytes are truncated or not such a payload.
 */
export function decodeTensor(bytes: Uint8Array | ArrayBuffer, where = 'payload'): DecodedTensor {
  return readPayload(bytes, where).decoded;
}

/** decodeTensor, and what decodeSnapshot checks beside it: the schema's columns and the tensor's nulls. */
function readPayload(
  bytes: Uint8Array | ArrayBuffer,
  where: string,
): { decoded: DecodedTensor; columns: number; nulls: number; dimNames: unknown } {
  let table: Table;
  try {
    table = tableFromIPC(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
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
  const child = list.children[0]!;
  // tensorFieldInfo names each axis as a string; decodeSnapshot wants to know what was sent.
  const sent = (JSON.parse(field.metadata.get(EXTENSION_METADATA_KEY)!) as { dim_names?: unknown }).dim_names;
  return {
    decoded,
    columns: table.schema.fields.length,
    nulls: list.nullCount + child.nullCount,
    dimNames: sent,
  };
}

/** Largest iteration, epoch and batch a snapshot may carry: the exports' int32 columns hold them exactly. */
export const MAX_SNAPSHOT_INDEX = 2 ** 31 - 1;
/** Latest time a snapshot may carry, ms since the epoch: the latest a JavaScript Date holds. */
export const MAX_SNAPSHOT_TIME = 8.64e15;

const META_KEYS: ReadonlySet<string> = new Set([
  'run',
  'iteration',
  'epoch',
  'batch',
  'layer',
  'layerClass',
  'kind',
  'part',
  'channelParts',
  'loss',
  'time',
  'nonFinite',
]);

/** NaN and ±Infinity among `values` (Snapshot.nonFinite: the capture counts it, ingest checks it). */
export function countNonFinite(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) n++;
  return n;
}

const show = (v: unknown): string => {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/**
 * The Snapshot of a payload that carries `gradscope:snapshot` metadata (what encodeSnapshot writes, the
 * remote-ingest body). Throws PayloadError ECORRUPT as decodeTensor, and EINVAL when the metadata is
 * missing or malformed or disagrees with the tensor: every field is checked against its documented range
 * (iteration, epoch and batch integers 0..2^31-1, time a finite ms time 0..8.64e15, nonFinite the count of
 * NaN/±Infinity the values hold), the dims name each axis once, channelParts split the last axis evenly,
 * the tensor holds no nulls and the payload no other column, and no other field is present. A null loss
 * (JSON's NaN) comes back as NaN.
 */
export function decodeSnapshot(bytes: Uint8Array | ArrayBuffer, where = 'payload'): Snapshot {
  const { decoded: t, columns, nulls, dimNames } = readPayload(bytes, where);
  const m = t.meta as Partial<Record<keyof SnapshotMeta, unknown>> | undefined;
  const bad = (why: string) => new PayloadError('EINVAL', where, why);
  if (!m || typeof m !== 'object' || Array.isArray(m))
    throw bad(`schema metadata '${SNAPSHOT_METADATA_KEY}' is missing`);
  const unknown = Object.keys(m).filter((k) => !META_KEYS.has(k));
  if (unknown.length > 0) {
    throw bad(
      `unknown snapshot field${unknown.length > 1 ? 's' : ''} ${unknown.map(show).join(', ')} (known: ${[...META_KEYS].join(', ')})`,
    );
  }
  if (columns !== 1) throw bad(`expected one column (the tensor), found ${columns}`);
  if (nulls > 0) throw bad(`the tensor holds ${nulls} null values: a tensor has a number in every cell`);
  for (const key of ['run', 'layer', 'layerClass'] as const) {
    if (typeof m[key] !== 'string' || m[key] === '')
      throw bad(`'${key}' must be a non-empty string, got ${show(m[key])}`);
  }
  for (const key of ['iteration', 'epoch', 'batch'] as const) {
    const v = m[key];
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_SNAPSHOT_INDEX)
      throw bad(`'${key}' must be an integer from 0 to ${MAX_SNAPSHOT_INDEX}, got ${show(v)}`);
  }
  if (!isKind(m.kind)) throw bad(`'kind' must be one of ${KINDS.join(', ')}, got ${show(m.kind)}`);
  if (m.part !== undefined && m.part !== null && (typeof m.part !== 'string' || m.part === '')) {
    throw bad(`'part' must be a non-empty string, null or absent, got ${show(m.part)}`);
  }
  const loss = m.loss === null ? Number.NaN : m.loss;
  if (typeof loss !== 'number') throw bad(`'loss' must be a number or null, got ${show(m.loss)}`);
  const time = m.time;
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0 || time > MAX_SNAPSHOT_TIME)
    throw bad(`'time' must be ms since the epoch, from 0 to ${MAX_SNAPSHOT_TIME}, got ${show(time)}`);
  const shape = `[${t.shape.join(', ')}]`;
  if (dimNames !== undefined && (!Array.isArray(dimNames) || !dimNames.every((d) => typeof d === 'string')))
    throw bad(`dim_names must be absent or a list of strings, got ${show(dimNames)}`);
  if (t.dims.length !== t.shape.length)
    throw bad(`dim_names ${show(t.dims)} must name each of the ${t.shape.length} axes of shape ${shape}`);
  if (t.dims.some((d) => d === '') || new Set(t.dims).size !== t.dims.length)
    throw bad(`dim_names ${show(t.dims)} must be distinct non-empty names`);
  let channelParts: string[] | undefined;
  if (m.channelParts !== undefined && m.channelParts !== null) {
    const parts = m.channelParts;
    if (
      !Array.isArray(parts) ||
      parts.length === 0 ||
      !parts.every((p) => typeof p === 'string' && p !== '') ||
      new Set(parts).size !== parts.length
    ) {
      throw bad(`'channelParts' must be distinct non-empty names, got ${show(parts)}`);
    }
    const last = t.shape[t.shape.length - 1];
    if (last === undefined)
      throw bad(`'channelParts' split the last axis, but shape ${shape} has no axis (a 0-d tensor)`);
    if (last % parts.length !== 0) {
      throw bad(
        `'channelParts' ${show(parts)} must split the last axis evenly, but shape ${shape} ends in ${last}`,
      );
    }
    channelParts = parts as string[];
  }
  const counted = countNonFinite(t.data);
  if (!Number.isInteger(m.nonFinite) || m.nonFinite !== counted) {
    throw bad(
      `'nonFinite' must be the number of NaN and ±Infinity values in the tensor, ${counted}, got ${show(m.nonFinite)}`,
    );
  }
  const snapshot: Snapshot = {
    run: m.run as string,
    iteration: m.iteration as number,
    epoch: m.epoch as number,
    batch: m.batch as number,
    layer: m.layer as string,
    layerClass: m.layerClass as string,
    kind: m.kind,
    shape: t.shape,
    dims: t.dims,
    data: t.data,
    loss,
    time,
    nonFinite: counted,
  };
  if (typeof m.part === 'string') snapshot.part = m.part;
  if (channelParts !== undefined) snapshot.channelParts = channelParts;
  return snapshot;
}
