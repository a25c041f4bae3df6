// Tensors as the viewer sees them: decoded from the server's Arrow IPC by @gradscope/format's decoder (a
// Float32Array view, no copy) and folded into a sample × row × column cube that every figure reads.
import { decodeTensor as decodePayload } from '@gradscope/format';

export interface Tensor {
  shape: number[];
  dims: string[];
  /** Row-major values. */
  data: Float32Array;
}

/**
 * Decodes one snapshot tensor (see @gradscope/format's decodeTensor). `shape`/`dims` from the snapshot index,
 * when given, are checked against the payload's own; throws when the value count does not match the shape.
 */
export function decodeTensor(bytes: Uint8Array | ArrayBuffer, shape?: number[], dims?: string[]): Tensor {
  const t = decodePayload(bytes, 'tensor payload');
  if (shape) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new Error(`the tensor holds ${t.data.length} values, its shape [${shape}] needs ${n}`);
  }
  return { shape: shape ?? t.shape, dims: dims ?? t.dims, data: t.data };
}

/**
 * A tensor seen as `samples` stacked `rows` × `cols` matrices, row-major: value (s, r, c) is
 * data[(s * rows + r) * cols + c]. For a layer output (sample, timestep, channel) rows are timesteps and
 * columns channels; for a weight (input, unit) there is one sample; for (sample, channel), one row.
 */
export interface Cube {
  data: Float32Array;
  samples: number;
  rows: number;
  cols: number;
  /** Names of the three axes, e.g. ['sample', 'timestep', 'channel']. */
  axes: [string, string, string];
  /** True when the row axis is 'timestep'. */
  timeRows: boolean;
}

/** Folds a tensor into a cube (leading axes beyond three are folded into samples). */
export function toCube(t: Tensor): Cube {
  const { shape, dims, data } = t;
  const rank = shape.length;
  if (rank === 0)
    return { data, samples: 1, rows: 1, cols: 1, axes: ['sample', 'row', 'value'], timeRows: false };
  if (rank === 1)
    return { data, samples: 1, rows: 1, cols: shape[0]!, axes: ['sample', 'row', dims[0]!], timeRows: false };
  if (rank === 2) {
    if (dims[0] === 'sample')
      return {
        data,
        samples: shape[0]!,
        rows: 1,
        cols: shape[1]!,
        axes: ['sample', 'row', dims[1]!],
        timeRows: false,
      };
    return {
      data,
      samples: 1,
      rows: shape[0]!,
      cols: shape[1]!,
      axes: ['sample', dims[0]!, dims[1]!],
      timeRows: dims[0] === 'timestep',
    };
  }
  const rows = shape[rank - 2]!;
  const cols = shape[rank - 1]!;
  const samples = data.length / (rows * cols);
  return {
    data,
    samples,
    rows,
    cols,
    axes: [dims[0]!, dims[rank - 2]!, dims[rank - 1]!],
    timeRows: dims[rank - 2] === 'timestep',
  };
}

/** True for a layer output without a time axis, (sample, channel): the See RNN 0D case. */
export function isZeroD(dims: readonly string[]): boolean {
  return dims.length === 2 && dims[0] === 'sample' && dims[1] === 'channel';
}

/** out = a - b (element-wise), for the difference against the first iteration. Shapes must match. */
export function difference(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length !== b.length) throw new Error(`cannot subtract tensors of ${a.length} and ${b.length} values`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** max |v| over the finite values of every array (0 when there are none): the auto symmetric norm. */
export function maxAbs(arrays: readonly Float32Array[]): number {
  let m = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      const x = v < 0 ? -v : v;
      if (x > m && x !== Number.POSITIVE_INFINITY) m = x;
    }
  }
  return m;
}

/**
 * The q-quantile (0…1) of |v| over the finite values of every array, estimated from at most `sample` values
 * taken at an even stride (exact when the arrays are smaller). A robust alternative to maxAbs when the last
 * timesteps dwarf the rest.
 */
export function quantileAbs(arrays: readonly Float32Array[], q: number, sample = 200_000): number {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  if (total === 0) return 0;
  const stride = Math.max(1, Math.floor(total / sample));
  const picked = new Float32Array(Math.ceil(total / stride) + arrays.length);
  let k = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i += stride) {
      const v = Math.abs(a[i]!);
      if (Number.isFinite(v)) picked[k++] = v;
    }
  }
  if (k === 0) return 0;
  const sorted = picked.subarray(0, k).sort();
  return sorted[Math.min(k - 1, Math.max(0, Math.round(q * (k - 1))))]!;
}
