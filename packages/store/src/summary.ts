// Write-time summaries: one pass over the float32 values, float64 accumulators, in WebAssembly SIMD
// (summary.wat); this module lays out its memory, feeds it the values and reads the results back.
import { memoryHorizon } from '@gradscope/format';
import { BUCKET_BY_TOP_BITS, HISTOGRAM_BUCKETS } from './histogram.js';
import { SUMMARY_WASM } from './summary-wasm.js';
import type { TensorSummary } from './types.js';

/** Distinct values of a float32's top 9 bits (sign and exponent). */
const TOP_CODES = 512;
/** Values copied into the kernel's memory at a time (whole blocks, at least one): 256 KiB, warm in cache. */
const CHUNK_VALUES = 1 << 16;

/** What this module uses of the WebAssembly global (declared in TypeScript's DOM lib, not in @types/node 20). */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: Record<string, unknown>;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}

/** The summary kernel (summary.wat): one instance per thread, made on first use. */
interface Kernel {
  memory: WebAssembly.Memory;
  kernel(
    data: number,
    blocks: number,
    channels: number,
    c0: number,
    c1: number,
    chan: number,
    hist: number,
    ts: number,
    blocksPerStep: number,
    timesteps: number,
    first: number,
    st: number,
  ): void;
}
let wasm: Kernel | undefined;

function kernelInstance(): Kernel {
  wasm ??= new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SUMMARY_WASM, 'base64')))
    .exports as unknown as Kernel;
  return wasm;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

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
  const blocks = channels > 0 ? n / channels : 0;
  const stepsKept = accs[0]!.timestep ? timesteps : 0;

  // The kernel's memory: a chunk of whole blocks, Σv² per channel, then for each part its 4 histogram
  // tables, Σv² per timestep and its totals (see summary.wat).
  const perChunk = channels > 0 ? Math.max(1, Math.floor(CHUNK_VALUES / channels)) : 0;
  const chanAt = align16(perChunk * channels * 4);
  const partAt = chanAt + align16(Math.max(channels, 1) * 8);
  const histBytes = 4 * TOP_CODES * 4;
  const tsBytes = align16(stepsKept * 8);
  const partBytes = histBytes + tsBytes + 48;
  const histAt = (p: number) => partAt + p * partBytes;
  const tsAt = (p: number) => histAt(p) + histBytes;
  const stAt = (p: number) => tsAt(p) + tsBytes;
  const need = partAt + nParts * partBytes;
  const k = kernelInstance();
  if (k.memory.buffer.byteLength < need)
    k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / 65536));
  const mem = k.memory.buffer;
  new Uint8Array(mem, chanAt, need - chanAt).fill(0);
  for (let p = 0; p < nParts; p++) new Float64Array(mem, stAt(p), 4).set([0, 0, Infinity, -Infinity]);
  const chunk = new Float32Array(mem, 0, perChunk * channels);
  for (let b = 0; b < blocks; b += perChunk) {
    const count = Math.min(perChunk, blocks - b);
    chunk.set(data.subarray(b * channels, (b + count) * channels));
    for (let p = 0; p < nParts; p++) {
      k.kernel(
        0,
        count,
        channels,
        p * width,
        (p + 1) * width,
        chanAt,
        histAt(p),
        stepsKept > 0 ? tsAt(p) : 0,
        blocksPerStep,
        timesteps,
        b,
        stAt(p),
      );
    }
  }
  // The kernel counts values by their top 9 bits (sign and exponent); each such code is in one bucket.
  const lut = BUCKET_BY_TOP_BITS;
  for (let p = 0; p < nParts; p++) {
    const acc = accs[p]!;
    const h = new Uint32Array(mem, histAt(p), 4 * TOP_CODES);
    for (let c = 0; c < TOP_CODES; c++) {
      acc.histogram[lut[c]!]! += h[c]! + h[c + TOP_CODES]! + h[c + 2 * TOP_CODES]! + h[c + 3 * TOP_CODES]!;
    }
    acc.timestep?.set(new Float64Array(mem, tsAt(p), stepsKept));
    const st = new Float64Array(mem, stAt(p), 5);
    acc.sumSq = st[0]!;
    acc.sum = st[1]!;
    acc.min = st[2]!;
    acc.max = st[3]!;
    acc.nonFinite = st[4]!;
    acc.finite = blocks * width - acc.nonFinite;
  }
  channelSums?.set(new Float64Array(mem, chanAt, channels));

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
