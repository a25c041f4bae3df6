import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_BY_TOP_BITS,
  bucketOf,
  HISTOGRAM_BUCKETS,
  HISTOGRAM_EDGES,
  histogramPercentiles,
} from './histogram.js';
import { summarize } from './summary.js';
import { SUMMARY_WASM } from './summary-wasm.js';
import { close, reference, values } from './test-util/fixtures.js';
import type { TensorSummary } from './types.js';

/** Histogram computed independently: bucket by comparing against the documented edges. */
function referenceHistogram(finite: number[]): number[] {
  const counts = new Array(HISTOGRAM_BUCKETS).fill(0);
  for (const v of finite) {
    const a = Math.abs(v);
    let b: number;
    if (a < 2 ** -48) b = 64;
    else {
      let m = 0;
      while (m < 63 && a >= 2 ** (-48 + m + 1)) m++;
      b = v < 0 ? 63 - m : 65 + m;
    }
    counts[b]++;
  }
  return counts;
}

function expectMatches(s: TensorSummary, ref: ReturnType<typeof reference>, withTimestep: boolean) {
  expect(close(s.l2, ref.l2, 1e-12)).toBe(true);
  expect(s.maxAbs).toBe(ref.maxAbs);
  expect(s.min).toBe(ref.min);
  expect(s.max).toBe(ref.max);
  expect(close(s.mean, ref.mean, 1e-9) || Math.abs(s.mean - ref.mean) < 1e-12 * ref.maxAbs).toBe(true);
  expect(close(s.std, ref.std, 1e-9)).toBe(true);
  expect(s.nonFinite).toBe(ref.nonFinite);
  expect(s.count).toBe(ref.count);
  expect(Array.from(s.histogram)).toEqual(referenceHistogram(ref.finite));
  if (withTimestep) {
    expect(s.timestepNorms!.length).toBe(ref.timestepNorms.length);
    ref.timestepNorms.forEach((v, t) => {
      expect(close(s.timestepNorms![t]!, v)).toBe(true);
    });
  } else {
    expect(s.timestepNorms).toBeNull();
  }
}

describe('summarize', () => {
  it('matches a direct float64 computation for (sample, timestep, channel), NaN and ±Infinity left out', () => {
    const shape = [5, 13, 6];
    const dims = ['sample', 'timestep', 'channel'];
    const data = values(7, 5 * 13 * 6, { nonFinite: 9 });
    const [whole, ...rest] = summarize(data, shape, dims);
    expect(rest).toHaveLength(0);
    const ref = reference(data, shape, dims);
    expect(ref.nonFinite).toBeGreaterThan(0);
    expectMatches(whole!, ref, true);
    expect(whole!.channelNorms!.length).toBe(6);
    ref.channelNorms.forEach((v, c) => {
      expect(close(whole!.channelNorms![c]!, v)).toBe(true);
    });
  });

  it('splits a bidirectional concat layer into equal channel halves, each summarized on its own', () => {
    const shape = [4, 9, 10];
    const dims = ['sample', 'timestep', 'channel'];
    const data = values(11, 4 * 9 * 10, { nonFinite: 3 });
    const out = summarize(data, shape, dims, ['forward', 'backward']);
    expect(out.map((s) => s.channelPart)).toEqual(['', 'forward', 'backward']);
    expectMatches(out[0]!, reference(data, shape, dims), true);
    const fwd = reference(data, shape, dims, (i) => i[2]! < 5);
    const bwd = reference(data, shape, dims, (i) => i[2]! >= 5);
    expectMatches(out[1]!, fwd, true);
    expectMatches(out[2]!, bwd, true);
    expect(Array.from(out[1]!.channelNorms!)).toEqual(Array.from(out[0]!.channelNorms!.subarray(0, 5)));
    expect(Array.from(out[2]!.channelNorms!)).toEqual(Array.from(out[0]!.channelNorms!.subarray(5)));
  });

  it('handles an odd channel count (the unrolled loop tail)', () => {
    const shape = [3, 4, 7];
    const dims = ['sample', 'timestep', 'channel'];
    const data = values(5, 84, { nonFinite: 2 });
    expectMatches(summarize(data, shape, dims)[0]!, reference(data, shape, dims), true);
  });

  it('stores what applies for dims without a timestep axis (sample, channel) and for weights', () => {
    const data = values(3, 8 * 6);
    const [s] = summarize(data, [8, 6], ['sample', 'channel']);
    const ref = reference(data, [8, 6], ['sample', 'channel']);
    expectMatches(s!, ref, false);
    ref.channelNorms.forEach((v, c) => {
      expect(close(s!.channelNorms![c]!, v)).toBe(true);
    });

    const w = values(4, 5 * 12);
    const [k] = summarize(w, [5, 12], ['input', 'unit']);
    expectMatches(k!, reference(w, [5, 12], ['input', 'unit']), false);
    expect(k!.channelNorms!.length).toBe(12);
  });

  it('treats a last timestep axis as the timestep norms, with no channel norms', () => {
    const data = values(9, 6 * 11);
    const [s] = summarize(data, [6, 11], ['sample', 'timestep']);
    expectMatches(s!, reference(data, [6, 11], ['sample', 'timestep']), true);
    expect(s!.channelNorms).toBeNull();
  });

  it('summarizes a timestep axis that is not next to the channels (sample, timestep, axis1, channel)', () => {
    const shape = [2, 5, 3, 4];
    const dims = ['sample', 'timestep', 'axis1', 'channel'];
    const data = values(21, 2 * 5 * 3 * 4);
    expectMatches(summarize(data, shape, dims)[0]!, reference(data, shape, dims), true);
  });

  it('gives the same answers for a tensor fed to the kernel in several chunks (a step split between two)', () => {
    // 2×30×40×70: 2,400 blocks of 70 channels, 936 blocks per chunk, 40 blocks per timestep: chunks end
    // inside a timestep. Non-finite values land in 4-wide steps and in block tails.
    const shape = [2, 30, 40, 70];
    const dims = ['sample', 'timestep', 'axis1', 'channel'];
    const data = values(31, 2 * 30 * 40 * 70, { nonFinite: 40 });
    const out = summarize(data, shape, dims, ['forward', 'backward']);
    expectMatches(out[0]!, reference(data, shape, dims), true);
    expectMatches(
      out[1]!,
      reference(data, shape, dims, (i) => i[3]! < 35),
      true,
    );
    expectMatches(
      out[2]!,
      reference(data, shape, dims, (i) => i[3]! >= 35),
      true,
    );
    const ref = reference(data, shape, dims);
    ref.channelNorms.forEach((v, c) => {
      expect(close(out[0]!.channelNorms![c]!, v)).toBe(true);
    });
  });

  it('handles one block larger than a chunk and a non-finite value at each position of a 4-wide step', () => {
    const wide = values(41, 2 * 70_000, { nonFinite: 5 });
    expectMatches(
      summarize(wide, [2, 70_000], ['sample', 'channel'])[0]!,
      reference(wide, [2, 70_000], ['sample', 'channel']),
      false,
    );
    for (let at = 0; at < 9; at++) {
      const data = values(50 + at, 2 * 3 * 9);
      data[at] = at % 2 === 0 ? Number.NaN : Number.NEGATIVE_INFINITY;
      const shape = [2, 3, 9];
      const dims = ['sample', 'timestep', 'channel'];
      const [s] = summarize(data, shape, dims);
      expect(s!.nonFinite).toBe(1);
      expectMatches(s!, reference(data, shape, dims), true);
    }
  });

  it('runs the kernel compiled from summary.wat: the committed bytes are its compilation', async () => {
    const { default: wabtInit } = await import('wabt');
    const wabt = await wabtInit();
    const wat = readFileSync(new URL('./summary.wat', import.meta.url), 'utf8');
    const module = wabt.parseWat('summary.wat', wat, { simd: true });
    module.validate();
    const bytes = Buffer.from(module.toBinary({}).buffer);
    module.destroy();
    expect(Buffer.from(SUMMARY_WASM, 'base64').equals(bytes)).toBe(true);
  });

  it('gives zeros, not NaN, for a tensor with no finite value, and handles rank 0 and empty tensors', () => {
    const [s] = summarize(
      Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY),
      [1, 2],
      ['sample', 'channel'],
    );
    expect(s).toMatchObject({ l2: 0, maxAbs: 0, mean: 0, std: 0, min: 0, max: 0, nonFinite: 2, count: 2 });
    expect(Array.from(s!.histogram).every((c) => c === 0)).toBe(true);
    const [scalar] = summarize(Float32Array.of(-3), [], []);
    expect(scalar).toMatchObject({ l2: 3, maxAbs: 3, mean: -3, std: 0, nonFinite: 0, count: 1 });
    expect(scalar!.channelNorms).toBeNull();
    const [empty] = summarize(new Float32Array(0), [0, 5, 2], ['sample', 'timestep', 'channel']);
    expect(empty).toMatchObject({ l2: 0, count: 0 });
    expect(Array.from(empty!.timestepNorms!)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('histogram scheme', () => {
  it('has 129 ascending edges from -Infinity to +Infinity, symmetric around 0', () => {
    expect(HISTOGRAM_EDGES.length).toBe(130);
    for (let i = 1; i < HISTOGRAM_EDGES.length; i++)
      expect(HISTOGRAM_EDGES[i]!).toBeGreaterThan(HISTOGRAM_EDGES[i - 1]!);
    for (let i = 0; i < 130; i++) expect(HISTOGRAM_EDGES[i]).toBe(-HISTOGRAM_EDGES[129 - i]!);
    expect(HISTOGRAM_EDGES[65]).toBe(2 ** -48);
    expect(HISTOGRAM_EDGES[128]).toBe(2 ** 15);
  });

  it('the exponent lookup table agrees with bucketOf at and around every edge', () => {
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    const probe: number[] = [0, -0, 1e-45, -1e-45, 1e-30, 3e38, -3e38];
    for (let k = -50; k <= 17; k++) {
      for (const m of [1, 1.5, 1.9999999]) probe.push(m * 2 ** k, -m * 2 ** k);
    }
    for (const v of probe) {
      f[0] = v;
      const lut = BUCKET_BY_TOP_BITS[bits[0]! >>> 23]!;
      expect([v, lut]).toEqual([v, bucketOf(f[0]!)]);
      const b = lut;
      const x = f[0]!;
      if (b !== 64) {
        if (x > 0) expect(x >= HISTOGRAM_EDGES[b]! && x < HISTOGRAM_EDGES[b + 1]!).toBe(true);
        else expect(x > HISTOGRAM_EDGES[b]! && x <= HISTOGRAM_EDGES[b + 1]!).toBe(true);
      } else {
        expect(Math.abs(x)).toBeLessThan(2 ** -48);
      }
    }
  });

  it('interpolates percentiles inside buckets, clamped to [min, max]', () => {
    const counts = new Uint32Array(HISTOGRAM_BUCKETS);
    counts[65 + 48] = 10; // [1, 2)
    const p = histogramPercentiles(counts, 1, 1.5, [0, 50, 100]);
    expect(Array.from(p)).toEqual([1, 1.25, 1.5]);
    const q = histogramPercentiles(counts, 1, 2, [0, 50, 100]);
    expect(Array.from(q)).toEqual([1, 1.5, 2]);
    expect(Number.isNaN(histogramPercentiles(new Uint32Array(HISTOGRAM_BUCKETS), 0, 0, [50])[0])).toBe(true);
  });
});
