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
  fold(hist: number, lut: number, out: number): void;
  norms(src: number, n: number, dst: number): void;
}
let wasm: Kernel | undefined;

/** Where BUCKET_BY_TOP_BITS lives in the kernel's memory (written once); the values' chunk follows it. */
const LUT_AT = 0;
const DATA_AT = align16(BUCKET_BY_TOP_BITS.byteLength);

function kernelInstance(): Kernel {
  if (!wasm) {
    wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SUMMARY_WASM, 'base64')))
      .exports as unknown as Kernel;
    new Uint8Array(wasm.memory.buffer, LUT_AT, BUCKET_BY_TOP_BITS.byteLength).set(BUCKET_BY_TOP_BITS);
  }
  return wasm;
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

/** Totals of one channel part, as the kernel leaves them (finite: the values that are not NaN or ±Infinity). */
interface Totals {
  sumSq: number;
  sum: number;
  min: number;
  max: number;
  nonFinite: number;
  finite: number;
}

function finish(
  t: Totals,
  channelPart: string,
  count: number,
  histogram: Uint32Array,
  timestepNorms: Float32Array | null,
  channelNorms: Float32Array | null,
): TensorSummary {
  const n = t.finite;
  const mean = n > 0 ? t.sum / n : 0;
  const variance = n > 0 ? Math.max(0, t.sumSq / n - mean * mean) : 0;
  const min = n > 0 ? t.min : 0;
  const max = n > 0 ? t.max : 0;
  return {
    channelPart,
    count,
    l2: Math.sqrt(t.sumSq),
    maxAbs: Math.max(Math.abs(min), Math.abs(max)),
    min,
    max,
    mean,
    std: Math.sqrt(variance),
    nonFinite: t.nonFinite,
    timestepNorms,
    channelNorms,
    histogram,
    // From the float32 norms as stored, so that a reader recomputing it from them gets the same answer.
    ...memoryHorizon(timestepNorms),
  };
}

/**
 * Where everything is in the kernel's memory for tensors of one shape, dims and channel parts: the bucket
 * table, a chunk of whole blocks, Σv² per channel; for each part its 4 histogram tables, Σv² per timestep and
 * its totals (see summary.wat); the whole's Σv² per timestep (when there are parts); then the results as they
 * are returned: per summary (the whole, then each part) its histogram, timestep norms and channel norms.
 * Computed once per kind of tensor (a run writes the same few shapes over and over).
 */
interface Layout {
  channels: number;
  timesteps: number;
  /** Blocks of `channels` contiguous values; a block's timestep is floor(block / blocksPerStep) % timesteps. */
  blocksPerStep: number;
  nParts: number;
  /** Channels per part. */
  width: number;
  /** Σv² per timestep kept by the kernel (0: no timestep axis, or it is the last one: then channels are time). */
  stepsKept: number;
  /** Timestep norms per summary (0: none). */
  tsLength: number;
  hasTimestepNorms: boolean;
  hasChannelNorms: boolean;
  timestepIsLast: boolean;
  /** Whole blocks per chunk fed to the kernel. */
  perChunk: number;
  chanAt: number;
  histAt: number[];
  tsAt: number[];
  stAt: number[];
  wholeTsAt: number;
  /** Per summary: its histogram, timestep norms and channel norms in the results, and its channel count. */
  histOut: number[];
  tsOut: number[];
  chanOut: number[];
  widths: number[];
  outAt: number;
  need: number;
}

const layouts = new Map<string, Layout>();
const MAX_LAYOUTS = 256;

function layoutOf(
  shape: readonly number[],
  dims: readonly string[],
  channelParts: readonly string[] | null | undefined,
): Layout {
  const key = `${shape.join(',')}\u0000${dims.join('\u0001')}\u0000${channelParts?.join('\u0001') ?? ''}`;
  const known = layouts.get(key);
  if (known) return known;
  const rank = shape.length;
  const channels = rank > 0 ? shape[rank - 1]! : 1;
  const tAxis = dims.indexOf('timestep');
  const timestepIsLast = tAxis >= 0 && tAxis === rank - 1;
  const timesteps = tAxis >= 0 ? shape[tAxis]! : 0;
  let blocksPerStep = 1;
  if (tAxis >= 0 && !timestepIsLast) for (let a = tAxis + 1; a < rank - 1; a++) blocksPerStep *= shape[a]!;
  const nParts =
    channelParts && channelParts.length > 1 && !timestepIsLast && channels % channelParts.length === 0
      ? channelParts.length
      : 1;
  const width = channels / nParts;
  const perChannel = rank > 0 && channels > 0;
  const stepsKept = tAxis >= 0 && !timestepIsLast ? timesteps : 0;
  const tsLength = timestepIsLast ? (perChannel ? channels : 0) : stepsKept;
  const hasTimestepNorms = timestepIsLast ? perChannel : stepsKept > 0;
  const hasChannelNorms = perChannel && !timestepIsLast;
  const perChunk = channels > 0 ? Math.max(1, Math.floor(CHUNK_VALUES / channels)) : 0;
  const chanAt = align16(DATA_AT + perChunk * channels * 4);
  const partAt = chanAt + align16(Math.max(channels, 1) * 8);
  const histBytes = 4 * TOP_CODES * 4;
  const tsBytes = align16(stepsKept * 8);
  const partBytes = histBytes + tsBytes + 48;
  const parts = Array.from({ length: nParts }, (_, p) => partAt + p * partBytes);
  const wholeTsAt = partAt + nParts * partBytes;
  const outAt = align16(wholeTsAt + (nParts > 1 ? tsBytes : 0));
  const widths = nParts > 1 ? [channels, ...parts.map(() => width)] : [channels];
  const layout: Layout = {
    channels,
    timesteps,
    blocksPerStep,
    nParts,
    width,
    stepsKept,
    tsLength,
    hasTimestepNorms,
    hasChannelNorms,
    timestepIsLast,
    perChunk,
    chanAt,
    histAt: parts,
    tsAt: parts.map((at) => at + histBytes),
    stAt: parts.map((at) => at + histBytes + tsBytes),
    wholeTsAt,
    histOut: [],
    tsOut: [],
    chanOut: [],
    widths,
    outAt,
    need: outAt,
  };
  for (const w of widths) {
    layout.histOut.push(layout.need);
    layout.tsOut.push(layout.need + HISTOGRAM_BUCKETS * 4);
    layout.chanOut.push(layout.need + HISTOGRAM_BUCKETS * 4 + (hasTimestepNorms ? tsLength * 4 : 0));
    layout.need +=
      HISTOGRAM_BUCKETS * 4 + (hasTimestepNorms ? tsLength * 4 : 0) + (hasChannelNorms ? w * 4 : 0);
  }
  if (layouts.size >= MAX_LAYOUTS) layouts.delete(layouts.keys().next().value!);
  layouts.set(key, layout);
  return layout;
}

/**
 * Summaries of a row-major float32 tensor: the whole tensor first, then one per channel part when
 * `channelParts` splits the last axis into equal blocks (['forward', 'backward'] for a concat
 * bidirectional layer). Non-finite values are counted and left out of every other statistic.
 *
 * - timestep norms: L2 over every axis but 'timestep' (absent when dims has no 'timestep');
 * - channel norms: L2 over every axis but the last (absent for rank 0 or when the last axis is 'timestep').
 *
 * The histograms and norms of all the summaries share one ArrayBuffer (one allocation per snapshot).
 */
export function summarize(
  data: Float32Array,
  shape: readonly number[],
  dims: readonly string[],
  channelParts?: readonly string[] | null,
): TensorSummary[] {
  const L = layoutOf(shape, dims, channelParts);
  const { channels, nParts, width, stepsKept, tsLength, perChunk } = L;
  const n = data.length;
  const blocks = channels > 0 ? n / channels : 0;
  const k = kernelInstance();
  if (k.memory.buffer.byteLength < L.need)
    k.memory.grow(Math.ceil((L.need - k.memory.buffer.byteLength) / 65536));
  const mem = k.memory.buffer;
  new Uint8Array(mem, L.chanAt, L.need - L.chanAt).fill(0);
  const f64 = new Float64Array(mem);
  for (let p = 0; p < nParts; p++) {
    f64[L.stAt[p]! / 8 + 2] = Number.POSITIVE_INFINITY; // min
    f64[L.stAt[p]! / 8 + 3] = Number.NEGATIVE_INFINITY; // max
  }
  const chunk = new Float32Array(mem, DATA_AT, perChunk * channels);
  for (let b = 0; b < blocks; b += perChunk) {
    const count = Math.min(perChunk, blocks - b);
    chunk.set(data.subarray(b * channels, (b + count) * channels));
    for (let p = 0; p < nParts; p++) {
      k.kernel(
        DATA_AT,
        count,
        channels,
        p * width,
        (p + 1) * width,
        L.chanAt,
        L.histAt[p]!,
        stepsKept > 0 ? L.tsAt[p]! : 0,
        L.blocksPerStep,
        L.timesteps,
        b,
        L.stAt[p]!,
      );
    }
  }

  // Results, in the kernel's memory first: histograms by bucket, then the square roots of the sums.
  const totals: Totals[] = [];
  for (let p = 0; p < nParts; p++) {
    const st = L.stAt[p]! / 8;
    totals.push({
      sumSq: f64[st]!,
      sum: f64[st + 1]!,
      min: f64[st + 2]!,
      max: f64[st + 3]!,
      nonFinite: f64[st + 4]!,
      finite: blocks * width - f64[st + 4]!,
    });
    k.fold(L.histAt[p]!, LUT_AT, L.histOut[0]!); // every part counts in the whole's histogram
    if (nParts > 1) {
      k.fold(L.histAt[p]!, LUT_AT, L.histOut[1 + p]!);
      if (stepsKept > 0) k.norms(L.tsAt[p]!, stepsKept, L.tsOut[1 + p]!);
      if (L.hasChannelNorms) k.norms(L.chanAt + p * width * 8, width, L.chanOut[1 + p]!);
    }
  }
  if (L.hasTimestepNorms) {
    let wholeSums = L.timestepIsLast ? L.chanAt : L.tsAt[0]!;
    if (nParts > 1) {
      for (let p = 0; p < nParts; p++) {
        for (let t = 0; t < stepsKept; t++) f64[L.wholeTsAt / 8 + t]! += f64[L.tsAt[p]! / 8 + t]!;
      }
      wholeSums = L.wholeTsAt;
    }
    k.norms(wholeSums, tsLength, L.tsOut[0]!);
  }
  if (L.hasChannelNorms) k.norms(L.chanAt, channels, L.chanOut[0]!);

  const results = mem.slice(L.outAt, L.need);
  const summary = (s: number, t: Totals, part: string, count: number) =>
    finish(
      t,
      part,
      count,
      new Uint32Array(results, L.histOut[s]! - L.outAt, HISTOGRAM_BUCKETS),
      L.hasTimestepNorms ? new Float32Array(results, L.tsOut[s]! - L.outAt, tsLength) : null,
      L.hasChannelNorms ? new Float32Array(results, L.chanOut[s]! - L.outAt, L.widths[s]!) : null,
    );
  const whole =
    nParts === 1
      ? totals[0]!
      : totals.reduce((w, t) => ({
          sumSq: w.sumSq + t.sumSq,
          sum: w.sum + t.sum,
          min: Math.min(w.min, t.min),
          max: Math.max(w.max, t.max),
          nonFinite: w.nonFinite + t.nonFinite,
          finite: w.finite + t.finite,
        }));
  const out = [summary(0, whole, '', n)];
  for (let p = 0; nParts > 1 && p < nParts; p++) {
    out.push(summary(1 + p, totals[p]!, channelParts![p]!, blocks * width));
  }
  return out;
}
