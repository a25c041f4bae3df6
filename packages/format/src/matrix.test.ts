import { describe, expect, it } from 'vitest';
import {
  decodeBase64,
  decodeMatrix,
  encodeBase64,
  encodeMatrix,
  matrixValues,
  portableDecode,
  portableEncode,
} from './matrix.js';

// Node's own base64 is the independent reference.
const nodeBase64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

// Both implementations: the native one Node takes and the portable one browsers take.
const encoders = { encodeBase64, portableEncode };
const decoders = { decodeBase64, portableDecode };

describe.each(Object.entries(encoders))('base64: %s', (_name, encode) => {
  it('encodes as Node does, for every length mod 3 and every byte value', () => {
    const all = Uint8Array.from({ length: 256 * 3 + 2 }, (_, i) => (i * 167) & 255);
    for (let n = 0; n <= 40; n++) expect(encode(all.subarray(0, n))).toBe(nodeBase64(all.subarray(0, n)));
    expect(encode(all)).toBe(nodeBase64(all));
    expect(encode(all.subarray(5, 17))).toBe(nodeBase64(all.subarray(5, 17)));
  });

  it('encodes 1 MiB as Node does', () => {
    const bytes = Uint8Array.from({ length: 2 ** 20 }, (_, i) => (i ^ (i >>> 8)) & 255);
    expect(encode(bytes)).toBe(nodeBase64(bytes));
  });
});

describe.each(Object.entries(decoders))('base64: %s', (_name, decode) => {
  it('decodes what Node encodes, padded or not, into a buffer of its own', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 255);
    for (const n of [0, 1, 2, 3, 4, 5, 999, 1000]) {
      const text = nodeBase64(bytes.subarray(0, n));
      for (const t of [text, text.replace(/=+$/, '')]) {
        const out = decode(t);
        expect([...out]).toEqual([...bytes.subarray(0, n)]);
        expect([out.byteOffset, out.buffer.byteLength]).toEqual([0, n]);
      }
    }
  });

  it('refuses what is not base64', () => {
    expect(() => decode('ab$d')).toThrow(/character "\$" at 2/);
    expect(() => decode('abcde')).toThrow(/bad length/);
  });
});

describe('matrices', () => {
  it('carry float32, float64 and uint32 bit-exactly, non-finite values included', () => {
    const f32 = Float32Array.of(0.1, -2, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e-45);
    const f64 = Float64Array.of(1e-300, Number.NEGATIVE_INFINITY, Math.PI);
    const u32 = Uint32Array.of(0, 7, 4_000_000_000);
    for (const a of [f32, f64, u32]) {
      const m = encodeMatrix(a, [a.length, 1]);
      expect(m.shape).toEqual([a.length, 1]);
      expect(m.base64).toBe(nodeBase64(new Uint8Array(a.buffer)));
      const back = decodeMatrix(JSON.parse(JSON.stringify(m)));
      expect(back.constructor).toBe(a.constructor);
      expect(Buffer.from(back.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    }
    expect(encodeMatrix(f64).dtype).toBe('float64');
  });

  it('encode a subarray, not its whole buffer', () => {
    const a = Float32Array.of(1, 2, 3, 4, 5).subarray(1, 3);
    expect([...decodeMatrix(encodeMatrix(a))]).toEqual([2, 3]);
  });

  it('read as float32 from either JSON form; null is NaN, a missing matrix is empty', () => {
    expect([...matrixValues([1, null, 2.5])]).toEqual([1, Number.NaN, 2.5]);
    expect([...matrixValues(encodeMatrix(Uint32Array.of(3, 9)))]).toEqual([3, 9]);
    expect([...matrixValues(encodeMatrix(Float64Array.of(0.5, -1)))]).toEqual([0.5, -1]);
    expect(matrixValues(undefined).length).toBe(0);
  });
});
