import { describe, expect, it } from 'vitest';
import { matrixValues } from './matrix';

const b64 = (a: Float32Array | Uint32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

describe('matrixValues', () => {
  it('reads the flat JSON arrays of docs/api.md, null as NaN', () => {
    expect([...matrixValues([1, null, 2.5])]).toEqual([1, Number.NaN, 2.5]);
  });

  it('reads base64 float32 and uint32 matrices', () => {
    const f = new Float32Array([0.1, -2, Number.NaN, Number.POSITIVE_INFINITY]);
    expect([...matrixValues({ dtype: 'float32', shape: [2, 2], base64: b64(f) })]).toEqual([...f]);
    const u = new Uint32Array([0, 7, 4_000_000]);
    expect([...matrixValues({ dtype: 'uint32', shape: [3], base64: b64(u) })]).toEqual([0, 7, 4_000_000]);
  });

  it('is empty for a missing matrix', () => {
    expect(matrixValues(undefined).length).toBe(0);
  });
});
