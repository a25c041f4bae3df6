// The histogram bucket scheme: fixed, symmetric, one bucket per power of two.
//
// Gradients span many orders of magnitude (vanishing at early timesteps, exploding later), so buckets are
// log-spaced in |g| and the same for every snapshot, which makes a series over training a plain matrix:
//
//   bucket 64 (the middle)       |g| < 2^-48 (≈ 3.6e-15), zeros included
//   bucket 65 + m, m = 0…62      2^(m-48) <= g < 2^(m-47)
//   bucket 128                   g >= 2^15 (32768)
//   bucket 63 - m, m = 0…62      2^(m-48) <= -g < 2^(m-47)
//   bucket 0                     -g >= 2^15
//
// 129 buckets, edges HISTOGRAM_EDGES (130 numbers, -Infinity first, +Infinity last). The bucket of a finite
// float32 is read off its sign and exponent bits through a 512-entry table: no Math.log per value.
// NaN and ±Infinity are never counted (they are in `nonFinite`).

export const HISTOGRAM_MIN_EXP = -48;
export const HISTOGRAM_MAX_EXP = 15;
const OCTAVES = HISTOGRAM_MAX_EXP - HISTOGRAM_MIN_EXP + 1; // 64
export const HISTOGRAM_BUCKETS = 2 * OCTAVES + 1; // 129
const CENTER = OCTAVES; // 64

/** Bucket edges, ascending: bucket i is [EDGES[i], EDGES[i+1]) for positive buckets, (…] mirrored for negative. */
export const HISTOGRAM_EDGES: Float64Array = (() => {
  const edges = new Float64Array(HISTOGRAM_BUCKETS + 1);
  edges[0] = Number.NEGATIVE_INFINITY;
  edges[HISTOGRAM_BUCKETS] = Number.POSITIVE_INFINITY;
  for (let m = 0; m < OCTAVES; m++) {
    edges[CENTER + 1 + m] = 2 ** (HISTOGRAM_MIN_EXP + m); // lower edge of positive bucket 65 + m
    edges[CENTER - m] = -(2 ** (HISTOGRAM_MIN_EXP + m)); // upper edge of negative bucket 63 - m
  }
  return edges;
})();

/** Bucket index by the top 9 bits (sign + exponent) of a float32. Entries for exponent 255 (non-finite) are unused. */
export const BUCKET_BY_TOP_BITS: Uint8Array = (() => {
  const lut = new Uint8Array(512);
  for (let top = 0; top < 512; top++) {
    const negative = top >= 256;
    const exponent = top & 0xff;
    const k = exponent - 127; // floor(log2|v|) for normal numbers
    if (exponent === 0 || k < HISTOGRAM_MIN_EXP) {
      lut[top] = CENTER;
      continue;
    }
    const m = Math.min(k, HISTOGRAM_MAX_EXP) - HISTOGRAM_MIN_EXP;
    lut[top] = negative ? CENTER - 1 - m : CENTER + 1 + m;
  }
  return lut;
})();

/** The bucket of one value (reference implementation, for tests and documentation). */
export function bucketOf(value: number): number {
  if (!Number.isFinite(value)) return -1;
  const abs = Math.abs(value);
  if (abs < 2 ** HISTOGRAM_MIN_EXP) return CENTER;
  const k = Math.min(Math.floor(Math.log2(abs)), HISTOGRAM_MAX_EXP);
  // Math.log2 can round up just below a power of two: correct against the edges.
  let m = k - HISTOGRAM_MIN_EXP;
  if (m > 0 && abs < 2 ** (HISTOGRAM_MIN_EXP + m)) m--;
  return value < 0 ? CENTER - 1 - m : CENTER + 1 + m;
}

/** TensorBoard's distribution basis points, in percent. */
export const PERCENTILES = [0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32, 100];

/**
 * Percentiles of the values a histogram counts, interpolating linearly inside a bucket; the open-ended
 * outer buckets and the results are clamped to [min, max] of the values.
 */
export function histogramPercentiles(
  counts: ArrayLike<number>,
  min: number,
  max: number,
  percentiles: readonly number[] = PERCENTILES,
  out: Float64Array = new Float64Array(percentiles.length),
  outOffset = 0,
): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  for (let j = 0; j < percentiles.length; j++) {
    if (total === 0) {
      out[outOffset + j] = Number.NaN;
      continue;
    }
    const p = percentiles[j]!;
    if (p <= 0) {
      out[outOffset + j] = min;
      continue;
    }
    if (p >= 100) {
      out[outOffset + j] = max;
      continue;
    }
    const rank = (p / 100) * total;
    let cum = 0;
    let value = max;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c > 0 && cum + c >= rank) {
        const lo = Math.max(HISTOGRAM_EDGES[i]!, min);
        const hi = Math.min(HISTOGRAM_EDGES[i + 1]!, max);
        value = lo + (hi - lo) * ((rank - cum) / c);
        break;
      }
      cum += c;
    }
    out[outOffset + j] = Math.min(max, Math.max(min, value));
  }
  return out;
}
