// The store's payload encoder: the bytes of @gradscope/format's encodeTensor, made without Arrow's generic
// writer for every snapshot after the first of its kind.
//
// A payload is an Arrow IPC stream (schema message with the snapshot's fields as JSON metadata, one record
// batch, end-of-stream). Two payloads of the same shape and dims whose metadata JSON has the same byte length
// differ only in those JSON bytes and in the tensor values: the flatbuffer layout is the same. So the first one
// is encoded by Arrow and kept as a template; later ones copy the template's header, write their JSON over the
// template's and copy the values into the body (a memcpy, no Arrow objects, no flatbuffer builder). A template
// is only used after checking, on the bytes Arrow made, where the JSON string and the values are. A template
// keeps the bytes around the values, not the values: it kept whole payloads once, 256 of them at most, and a
// server taking 16 MB snapshots of 16 layers held ~250 MB of them (issue 23).
import { type ByteAllocator, encodeTensor } from './tensor.js';
import type { SnapshotMeta } from './types.js';

interface Template {
  /** The payload's bytes before the values (header, schema with its JSON, record batch message). */
  head: Uint8Array;
  /** The bytes after the values (padding, end of stream). */
  tail: Uint8Array;
  /** Bytes of the whole payload. */
  total: number;
  /** Where the metadata JSON string's bytes start. */
  jsonAt: number;
  /** Where the float32 values start (8-aligned). */
  dataAt: number;
}

/** Templates by shape, dims and JSON byte length; `null`: this kind cannot be templated (always use Arrow). */
const templates = new Map<string, Template | null>();
const MAX_TEMPLATES = 256;

/** An encoded payload and where its float32 values are in it (so that the reader of the bytes needs no decoding). */
export interface Payload {
  ipc: Uint8Array;
  /** Byte offset of the values in `ipc` (a multiple of 4), or -1 when unknown. */
  dataOffset: number;
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function makeTemplate(
  data: Float32Array,
  shape: readonly number[],
  dims: readonly string[],
  meta: SnapshotMeta,
  json: Buffer,
): { template: Template | null; ipc: Uint8Array } {
  const ipc = encodeTensor(data, shape, dims, meta);
  const bytes = Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  const values = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const dataAt = ipc.byteLength - 8 - pad8(data.byteLength);
  const header = bytes.subarray(0, Math.max(0, dataAt));
  const jsonAt = header.indexOf(json);
  const ok =
    dataAt > 0 &&
    dataAt % 8 === 0 &&
    bytes.subarray(dataAt, dataAt + values.byteLength).equals(values) &&
    jsonAt >= 4 &&
    header.lastIndexOf(json) === jsonAt &&
    bytes.readUInt32LE(jsonAt - 4) === json.byteLength;
  const template = ok
    ? {
        head: new Uint8Array(bytes.subarray(0, dataAt)),
        tail: new Uint8Array(bytes.subarray(dataAt + values.byteLength)),
        total: ipc.byteLength,
        jsonAt,
        dataAt,
      }
    : null;
  return { template, ipc };
}

/** Bytes the templates hold now (a header and a tail each: see Template). */
export function templateBytes(): number {
  let n = 0;
  for (const t of templates.values()) if (t) n += t.head.byteLength + t.tail.byteLength;
  return n;
}

/**
 * The payload of one tensor: byte for byte what `encodeTensor(data, shape, dims, meta)` returns, written into
 * memory from `alloc` when given.
 */
export function encodePayload(
  data: Float32Array,
  shape: readonly number[],
  dims: readonly string[],
  meta: SnapshotMeta,
  alloc?: ByteAllocator,
): Payload {
  const json = Buffer.from(JSON.stringify(meta));
  const key = `${shape.join(',')}\u0000${dims.join('\u0001')}\u0000${json.byteLength}`;
  let t = templates.get(key);
  if (t === undefined) {
    const made = makeTemplate(data, shape, dims, meta, json);
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value!);
    templates.set(key, made.template);
    if (!made.template) {
      return { ipc: alloc ? copyInto(made.ipc, alloc) : made.ipc, dataOffset: -1 };
    }
    t = made.template;
  }
  if (t === null) return { ipc: encodeTensor(data, shape, dims, meta, alloc), dataOffset: -1 };
  const out = alloc ? alloc(t.total) : new Uint8Array(t.total);
  out.set(t.head);
  out.set(json, t.jsonAt);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), t.dataAt);
  out.set(t.tail, t.dataAt + data.byteLength);
  return { ipc: out, dataOffset: t.dataAt };
}

function copyInto(ipc: Uint8Array, alloc: ByteAllocator): Uint8Array {
  const out = alloc(ipc.byteLength);
  out.set(ipc);
  return out;
}

/** The values of a payload made by encodePayload, as a view (no copy), or undefined when not known. */
export function payloadValues(ipc: Uint8Array, dataOffset: number, length: number): Float32Array | undefined {
  if (dataOffset < 0 || (ipc.byteOffset + dataOffset) % 4 !== 0) return undefined;
  if (dataOffset + length * 4 > ipc.byteLength) return undefined;
  return new Float32Array(ipc.buffer, ipc.byteOffset + dataOffset, length);
}
