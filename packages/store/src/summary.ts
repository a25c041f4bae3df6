// Write-time summaries: one pass over the float32 values, float64 accumulators.
import { memoryHorizon } from '@gradscope/format';
import { BUCKET_BY_TOP_BITS, HISTOGRAM_BUCKETS } from './histogram.js';
import type { TensorSummary } from './types.js';

/** Distinct values of a float32's top 9 bits (sign and exponent). */
const TOP_CODES = 512;
/** Scratch of summarize (synchronous, so one set per thread is enough): no allocations for them per call. */
const H0 = new Uint32Array(TOP_CODES);
const H1 = new Uint32Array(TOP_CODES);
const STATE = new Float64Array(5);

interface Acc {
  sumSq: number;
  sum: number;
  min: number;
  max: number;
  finite: number;
  nonFinite: number;
  timestep: Float64Array | null;
  histogram: Uint32Array;
}

function newAcc(timesteps: number): Acc {
  return {
    sumSq: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    finite: 0,
    nonFinite: 0,
    timestep: timesteps > 0 ? new Float64Array(timesteps) : null,
    histogram: new Uint32Array(HISTOGRAM_BUCKETS),
  };
}

function sqrtF32(sums: Float64Array, from = 0, to = sums.length): Float32Array {
  const out = new Float32Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = Math.sqrt(sums[i]!);
  return out;
}

function finish(
  acc: Acc,
  channelPart: string,
  count: number,
  channelSums: Float64Array | null,
  from: number,
  to: number,
): TensorSummary {
  const n = acc.finite;
  const mean = n > 0 ? acc.sum / n : 0;
  const variance = n > 0 ? Math.max(0, acc.sumSq / n - mean * mean) : 0;
  const min = n > 0 ? acc.min : 0;
  const max = n > 0 ? acc.max : 0;
  const timestepNorms = acc.timestep ? sqrtF32(acc.timestep) : null;
  return {
    channelPart,
    count,
    l2: Math.sqrt(acc.sumSq),
    maxAbs: Math.max(Math.abs(min), Math.abs(max)),
    min,
    max,
    mean,
    std: Math.sqrt(variance),
    nonFinite: acc.nonFinite,
    timestepNorms,
    channelNorms: channelSums ? sqrtF32(channelSums, from, to) : null,
    histogram: acc.histogram,
    // From the float32 norms as stored, so that a reader recomputing it from them gets the same answer.
    ...memoryHorizon(timestepNorms),
  };
}

/**
 * Accumulates values [c0, c1) of every block into `st` (non-finite count in st[4]); slow path, one at a time.
 * `hist` counts by top 9 bits (see summarize).
 */
function single(
  data: Float32Array,
  bits: Uint32Array,
  base: number,
  c0: number,
  c1: number,
  chan: Float64Array,
  hist: Uint32Array,
  st: Float64Array,
): void {
  for (let k = c0; k < c1; k++) {
    const x = data[base + k]!;
    if (x - x !== 0) {
      st[4]!++;
      continue;
    }
    const sx = x * x;
    st[0]! += sx;
    st[1]! += x;
    if (x < st[2]!) st[2] = x;
    if (x > st[3]!) st[3] = x;
    hist[bits[base + k]! >>> 23]!++;
    chan[k]! += sx;
  }
}

/**
 * The hot loop over channels [c0, c1) of every block of `channels` contiguous values. Finite values are
 * taken two at a time with two of every accumulator (breaking dependency chains); a pair holding a
 * non-finite value, and an odd last channel, go through `single`. Results: st = [Σv², Σv, min, max, nonFinite].
 * Kept small and separate so that V8 optimizes it well (a big function spills registers and runs ~3× slower).
 */
function kernel(
  data: Float32Array,
  bits: Uint32Array,
  blocks: number,
  channels: number,
  c0: number,
  c1: number,
  chan: Float64Array,
  h0: Uint32Array,
  h1: Uint32Array,
  ts: Float64Array | null,
  blocksPerStep: number,
  timesteps: number,
  st: Float64Array,
): void {
  let sumSq = 0;
  let sum = 0;
  let min0 = Number.POSITIVE_INFINITY;
  let max0 = Number.NEGATIVE_INFINITY;
  let min1 = Number.POSITIVE_INFINITY;
  let max1 = Number.NEGATIVE_INFINITY;
  const even = c0 + ((c1 - c0) & ~1);
  for (let b = 0; b < blocks; b++) {
    const base = b * channels;
    let s0 = 0;
    let s1 = 0;
    for (let c = c0; c < even; c += 2) {
      const i = base + c;
      const v = data[i]!;
      const w = data[i + 1]!;
      if (v - v === 0 && w - w === 0) {
        const sv = v * v;
        const sw = w * w;
        s0 += sv;
        s1 += sw;
        sum += v + w;
        // biome-ignore lint/complexity/useMathMinMax: a compare-select is ~2× faster than Math.min/max (NaN and -0 handling) in this loop
        min0 = v < min0 ? v : min0;
        // biome-ignore lint/complexity/useMathMinMax: a compare-select is ~2× faster than Math.min/max (NaN and -0 handling) in this loop
        max0 = v > max0 ? v : max0;
        // biome-ignore lint/complexity/useMathMinMax: a compare-select is ~2× faster than Math.min/max (NaN and -0 handling) in this loop
        min1 = w < min1 ? w : min1;
        // biome-ignore lint/complexity/useMathMinMax: a compare-select is ~2× faster than Math.min/max (NaN and -0 handling) in this loop
        max1 = w > max1 ? w : max1;
        h0[bits[i]! >>> 23]!++;
        h1[bits[i + 1]! >>> 23]!++;
        chan[c]! += sv;
        chan[c + 1]! += sw;
      } else {
        st[0] = 0;
        st[1] = 0;
        st[2] = Number.POSITIVE_INFINITY;
        st[3] = Number.NEGATIVE_INFINITY;
        single(data, bits, base, c, c + 2, chan, h0, st);
        s0 += st[0]!;
        sum += st[1]!;
        min0 = Math.min(min0, st[2]!);
        max0 = Math.max(max0, st[3]!);
      }
    }
    if (even < c1) {
      st[0] = 0;
      st[1] = 0;
      st[2] = Number.POSITIVE_INFINITY;
      st[3] = Number.NEGATIVE_INFINITY;
      single(data, bits, base, even, c1, chan, h0, st);
      s0 += st[0]!;
      sum += st[1]!;
      min0 = Math.min(min0, st[2]!);
      max0 = Math.max(max0, st[3]!);
    }
    const blockSq = s0 + s1;
    sumSq += blockSq;
    if (ts !== null) ts[((b / blocksPerStep) | 0) % timesteps]! += blockSq;
  }
  st[0] = sumSq;
  st[1] = sum;
  st[2] = Math.min(min0, min1);
  st[3] = Math.max(max0, max1);
}

/**
 * Summaries of a row-major float32 tensor: the whole tensor first, then one per channel part when
 * `channelParts` splits the last axis into equal blocks (['forward', 'backward'] for a concat
 * bidirectional layer). Non-finite values are counted and left out of every other statistic.
 *
 * - timestep norms: L2 over every axis but 'timestep' (absent when dims has no 'timestep');
 * - channel norms: L2 over every axis but the last (absent for rank 0 or when the last axis is 'timestep').
 */
export function summarize(
  data: Float32Array,
  shape: readonly number[],
  dims: readonly string[],
  channelParts?: readonly string[] | null,
): TensorSummary[] {
  const n = data.length;
  const rank = shape.length;
  const channels = rank > 0 ? shape[rank - 1]! : 1;
  const tAxis = dims.indexOf('timestep');
  const timestepIsLast = tAxis >= 0 && tAxis === rank - 1;
  const hasTimestep = tAxis >= 0;
  const timesteps = hasTimestep ? shape[tAxis]! : 0;
  // Blocks of `channels` contiguous values; a block's timestep is floor(block / blocksPerStep) % timesteps.
  let blocksPerStep = 1;
  if (hasTimestep && !timestepIsLast) for (let a = tAxis + 1; a < rank - 1; a++) blocksPerStep *= shape[a]!;

  const nParts =
    channelParts && channelParts.length > 1 && !timestepIsLast && channels % channelParts.length === 0
      ? channelParts.length
      : 1;
  const width = channels / nParts;
  const accs: Acc[] = [];
  for (let p = 0; p < nParts; p++) accs.push(newAcc(hasTimestep && !timestepIsLast ? timesteps : 0));
  const channelSums = rank > 0 && channels > 0 ? new Float64Array(channels) : null;
  const bits = new Uint32Array(data.buffer, data.byteOffset, n);
  const blocks = channels > 0 ? n / channels : 0;

  const state = STATE;
  const h0 = H0;
  const h1 = H1;
  const chan = channelSums ?? new Float64Array(Math.max(channels, 1));
  for (let p = 0; p < nParts; p++) {
    const acc = accs[p]!;
    h0.fill(0);
    h1.fill(0);
    state[4] = 0;
    kernel(
      data,
      bits,
      blocks,
      channels,
      p * width,
      (p + 1) * width,
      chan,
      h0,
      h1,
      acc.timestep,
      blocksPerStep,
      timesteps,
      state,
    );
    // The kernel counts values by their top 9 bits (sign and exponent); each such code is in one bucket.
    const lut = BUCKET_BY_TOP_BITS;
    for (let k = 0; k < TOP_CODES; k++) acc.histogram[lut[k]!]! += h0[k]! + h1[k]!;
    acc.sumSq = state[0]!;
    acc.sum = state[1]!;
    acc.min = state[2]!;
    acc.max = state[3]!;
    acc.nonFinite = state[4]!;
    acc.finite = blocks * width - acc.nonFinite;
  }

  let whole: Acc;
  if (nParts === 1) {
    whole = accs[0]!;
  } else {
    whole = newAcc(accs[0]!.timestep ? timesteps : 0);
    for (const acc of accs) {
      whole.sumSq += acc.sumSq;
      whole.sum += acc.sum;
      whole.min = Math.min(whole.min, acc.min);
      whole.max = Math.max(whole.max, acc.max);
      whole.finite += acc.finite;
      whole.nonFinite += acc.nonFinite;
      if (whole.timestep && acc.timestep)
        for (let t = 0; t < timesteps; t++) whole.timestep[t]! += acc.timestep[t]!;
      for (let k = 0; k < HISTOGRAM_BUCKETS; k++) whole.histogram[k]! += acc.histogram[k]!;
    }
  }
  if (timestepIsLast && channelSums) {
    // The last axis is time: its per-index norms are the timestep norms, and there is no channel axis.
    whole.timestep = channelSums;
    const summary = finish(whole, '', n, null, 0, 0);
    return [summary];
  }
  const out = [finish(whole, '', n, channelSums, 0, channels)];
  if (nParts > 1) {
    for (let p = 0; p < nParts; p++) {
      out.push(finish(accs[p]!, channelParts![p]!, blocks * width, channelSums, p * width, (p + 1) * width));
    }
  }
  return out;
}
