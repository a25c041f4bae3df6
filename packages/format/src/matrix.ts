// Number matrices in JSON responses (flow, histograms, scalars): the little-endian bytes of a typed array in
// base64, with its dtype and shape. Encoder and decoder of both ends; no Buffer, no atob (runs anywhere).

/** The typed arrays a matrix can carry. */
export type MatrixDtype = 'float32' | 'float64' | 'uint32';

/** A typed array in JSON: `base64` holds its little-endian bytes, row-major with `shape`. */
export interface EncodedMatrix {
  dtype: MatrixDtype;
  shape: number[];
  base64: string;
}

/** A matrix as a route may send it: an EncodedMatrix, or docs/api.md's flat array (null for NaN/±Infinity). */
export type MatrixJson = readonly (number | null)[] | EncodedMatrix;

export type MatrixArray = Float32Array | Float64Array | Uint32Array;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODE = new Uint8Array(ALPHABET.split('').map((c) => c.charCodeAt(0)));
const VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;
const PAD = 61; // '='

/** Bytes as a string of one char per byte, in chunks (fromCharCode takes its arguments on the stack). */
function ascii(bytes: Uint8Array): string {
  let s = '';
  // apply() takes the typed array as it is; spreading it would walk an iterator, ~100× slower.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return s;
}

/**
 * Node's Buffer when there is one (found on globalThis, not imported: bundlers leave it alone and browsers
 * take the portable path). Its base64 is native code, several times faster than any JavaScript loop.
 */
interface NativeBuffer {
  from(data: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
  from(text: string, encoding: 'base64'): Uint8Array;
}
const NativeBuffer = (globalThis as { Buffer?: NativeBuffer }).Buffer;
/** The browsers' (and Node's) atob / btoa: native code over "binary strings", one char per byte. */
const web = globalThis as { atob?: (text: string) => string; btoa?: (binary: string) => string };
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 (RFC 4648 §4, padded) of `bytes`. */
export function encodeBase64(bytes: Uint8Array): string {
  if (NativeBuffer)
    return NativeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return portableEncode(bytes);
}

/** encodeBase64 in plain JavaScript, for runtimes with neither Buffer nor btoa (exported for the tests). */
export function portableEncode(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = CODE[v >>> 18]!;
    out[o++] = CODE[(v >>> 12) & 63]!;
    out[o++] = CODE[(v >>> 6) & 63]!;
    out[o++] = CODE[v & 63]!;
  }
  if (i < n) {
    const two = i + 1 < n;
    const v = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
    out[o++] = CODE[v >>> 18]!;
    out[o++] = CODE[(v >>> 12) & 63]!;
    out[o++] = two ? CODE[(v >>> 6) & 63]! : PAD;
    out[o++] = PAD;
  }
  return ascii(out);
}

/** The bytes of standard base64 text (padding optional), in a fresh buffer. Throws on any other character. */
export function decodeBase64(text: string): Uint8Array {
  // Node's decoder skips what is not base64: check first, then let it (or the loop below) decode.
  if (NativeBuffer && BASE64_TEXT.test(text) && text.length % 4 !== 1) {
    const b = NativeBuffer.from(text, 'base64');
    // Small Buffers share a pooled ArrayBuffer at an offset: copy to a buffer of its own (aligned views).
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
  }
  if (web.atob && BASE64_TEXT.test(text) && text.length % 4 !== 1) {
    const binary = web.atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  return portableDecode(text);
}

/** decodeBase64 in plain JavaScript, for runtimes with neither Buffer nor atob (exported for the tests). */
export function portableDecode(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === PAD) end--;
  if (text.length - end > 2 || end % 4 === 1) throw new Error('not base64: bad length or padding');
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? VALUE[c]! : -1;
    if (v < 0) throw new Error(`not base64: character ${JSON.stringify(text[i])} at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

function dtypeOf(a: MatrixArray): MatrixDtype {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'uint32';
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A typed array as JSON (see EncodedMatrix); `shape` defaults to [length]. */
export function encodeMatrix(a: MatrixArray, shape: number[] = [a.length]): EncodedMatrix {
  if (!littleEndian) throw new Error('encodeMatrix: big-endian hosts are not supported');
  return {
    dtype: dtypeOf(a),
    shape,
    base64: encodeBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)),
  };
}

/** The typed array of an EncodedMatrix, of its own dtype (a fresh, aligned buffer). */
export function decodeMatrix(m: EncodedMatrix): MatrixArray {
  const raw = decodeBase64(m.base64);
  // A fresh Uint8Array starts at offset 0 of its own buffer, so the typed views below are aligned.
  if (m.dtype === 'float32') return new Float32Array(raw.buffer, 0, raw.byteLength >> 2);
  if (m.dtype === 'uint32') return new Uint32Array(raw.buffer, 0, raw.byteLength >> 2);
  if (m.dtype === 'float64') return new Float64Array(raw.buffer, 0, raw.byteLength >> 3);
  throw new Error(`unknown matrix dtype ${JSON.stringify((m as { dtype: unknown }).dtype)}`);
}

/** The values of a matrix as float32, row-major; JSON null → NaN; empty for a missing matrix. */
export function matrixValues(m: MatrixJson | null | undefined): Float32Array {
  if (!m) return new Float32Array(0);
  if (Array.isArray(m)) {
    const list = m as readonly (number | null)[];
    const out = new Float32Array(list.length);
    for (let i = 0; i < list.length; i++) out[i] = list[i] ?? Number.NaN;
    return out;
  }
  const a = decodeMatrix(m as EncodedMatrix);
  return a instanceof Float32Array ? a : Float32Array.from(a);
}
