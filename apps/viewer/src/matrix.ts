// Number matrices in JSON responses (/flow, /histograms): docs/api.md's flat arrays (null for NaN/±Infinity), or
// the compact { dtype, shape, base64 } form of the little-endian typed array. Both decode to a typed array.

export interface EncodedMatrix {
  dtype: 'float32' | 'uint32' | 'float64';
  shape: number[];
  base64: string;
}

export type MatrixJson = readonly (number | null)[] | EncodedMatrix;

function bytes(base64: string): Uint8Array {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The values of a matrix as float32, row-major; JSON null → NaN. */
export function matrixValues(m: MatrixJson | null | undefined): Float32Array {
  if (!m) return new Float32Array(0);
  if (Array.isArray(m)) {
    const list = m as readonly (number | null)[];
    const out = new Float32Array(list.length);
    for (let i = 0; i < list.length; i++) out[i] = list[i] ?? Number.NaN;
    return out;
  }
  const e = m as EncodedMatrix;
  const raw = bytes(e.base64);
  // A fresh Uint8Array starts at offset 0 of its own buffer, so the typed views below are aligned.
  if (e.dtype === 'float32') return new Float32Array(raw.buffer, 0, raw.byteLength >> 2);
  if (e.dtype === 'uint32') return Float32Array.from(new Uint32Array(raw.buffer, 0, raw.byteLength >> 2));
  if (e.dtype === 'float64') return Float32Array.from(new Float64Array(raw.buffer, 0, raw.byteLength >> 3));
  throw new Error(`unknown matrix dtype ${JSON.stringify((e as { dtype: unknown }).dtype)}`);
}
