// The wire and storage encoding of a snapshot: an Arrow IPC stream of one record batch with one row and
// one column `tensor` of the canonical `arrow.fixed_shape_tensor` extension type (storage
// FixedSizeList<float32>[product(shape)]), the snapshot's other fields as JSON in the schema metadata
// `gradscope:snapshot`. pyarrow reads the column back as an n-dimensional array. The store keeps these
// bytes as they are; HttpSink posts them. Values go in as views: nothing is copied number by number.
// Also exported alone as '@gradscope/capture/arrow', without tfjs, for the store's threads.
import {
  AsyncByteQueue,
  type Data,
  Field,
  FixedSizeList,
  Float32,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  type RecordBatchWriter,
  Schema,
  Struct,
  type TypeMap,
} from 'apache-arrow';
import type { Snapshot } from './types.js';

/** The snapshot fields besides the tensor, as carried in a payload's `gradscope:snapshot` metadata. */
export type SnapshotMeta = Omit<Snapshot, 'shape' | 'dims' | 'data'>;

export const TENSOR_EXTENSION_NAME = 'arrow.fixed_shape_tensor';
export const EXTENSION_NAME_KEY = 'ARROW:extension:name';
export const EXTENSION_METADATA_KEY = 'ARROW:extension:metadata';
/** Schema metadata key of a payload: the snapshot's other fields as JSON. */
export const SNAPSHOT_METADATA_KEY = 'gradscope:snapshot';

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export type TensorType = FixedSizeList<Float32>;

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
