// Arrow column builders over typed arrays (no per-value boxing), shared by the layouts.
import {
  type Data,
  Float64,
  Int32,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchStreamWriter,
  type RecordBatchWriter,
  type Schema,
  Struct,
  Utf8,
} from 'apache-arrow';

export function int32Data(values: Int32Array, validity?: Uint8Array, nullCount = 0): Data<Int32> {
  return makeData({
    type: new Int32(),
    length: values.length,
    nullCount,
    data: values,
    ...(validity ? { nullBitmap: validity } : {}),
  });
}

export function float64Data(values: Float64Array): Data<Float64> {
  return makeData({ type: new Float64(), length: values.length, nullCount: 0, data: values });
}

/** A validity bitmap with every bit clear: `length` nulls. */
export function allNull(length: number): Uint8Array {
  return new Uint8Array((length + 7) >> 3);
}

/**
 * A Utf8 column from dictionary indices; null rows where `validity` has a clear bit. Parquet gets plain
 * strings (parquet-wasm's streaming writer rejects dictionary columns; it dictionary-encodes them itself).
 */
export function utf8FromIndices(
  dictionary: string[],
  indices: Int32Array,
  validity?: Uint8Array,
  nullCount = 0,
): Data<Utf8> {
  const enc = new TextEncoder();
  const bytes = dictionary.map((s) => enc.encode(s));
  const n = indices.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const isNull = validity !== undefined && (validity[i >> 3]! & (1 << (i & 7))) === 0;
    if (!isNull) total += bytes[indices[i]!]!.byteLength;
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    if (offsets[i + 1] !== offsets[i]) data.set(bytes[indices[i]!]!, offsets[i]!);
  }
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount,
    valueOffsets: offsets,
    data,
    ...(validity ? { nullBitmap: validity } : {}),
  });
}

export function structBatch(schema: Schema, children: Data[], length: number): RecordBatch {
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }),
  );
}

export function newIpcWriter(ipc: 'file' | 'stream'): RecordBatchWriter {
  return ipc === 'file' ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
}

/** The schema metadata key naming what an export file holds (layout, run, layer, …) as JSON. */
export const EXPORT_METADATA_KEY = 'gradscope:export';

/** Rows per Parquet row group: what parquet-wasm's writer buffers (in WebAssembly memory) before it flushes. */
export const PARQUET_ROW_GROUP_ROWS = 1 << 16;
