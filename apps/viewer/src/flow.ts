// Gradient flow over time and training: the memory horizon of one iteration, and vanishing/exploding flags
// for a whole run, from per-timestep L2 norms (the /flow route).

/** Fraction of the last timestep's norm below which the gradient counts as gone. */
export const HORIZON_FRACTION = 0.01;

export interface Horizon {
  /**
   * Timesteps back from the last one at which the norm first falls below HORIZON_FRACTION × the last
   * timestep's norm (1 = the timestep before the last); null when it never does within the sequence (the
   * gradient reaches the first timestep) or when the last norm is zero or not finite.
   */
  lag: number | null;
  /** The timestep that lag points at (T - 1 - lag), or null. */
  timestep: number | null;
  /** HORIZON_FRACTION × the last timestep's norm: the threshold line. */
  threshold: number;
  /** True when the sequence ended before the norm fell below the threshold. */
  reachesStart: boolean;
}

/**
 * The effective memory horizon of one iteration's per-timestep norms (norms[offset … offset + T)): walking back
 * from the last timestep, the first lag whose norm falls below `fraction` of the last timestep's. For a
 * sequence output this is how far back, from where the loss enters, the gradient still arrives.
 */
export function memoryHorizon(
  norms: ArrayLike<number>,
  timesteps: number,
  offset = 0,
  fraction = HORIZON_FRACTION,
): Horizon {
  const last = timesteps > 0 ? norms[offset + timesteps - 1]! : Number.NaN;
  if (!(last > 0) || !Number.isFinite(last))
    return { lag: null, timestep: null, threshold: Number.NaN, reachesStart: false };
  const threshold = fraction * last;
  for (let lag = 1; lag < timesteps; lag++) {
    const v = norms[offset + timesteps - 1 - lag]!;
    // NaN pads shorter rows: stop there, as at the start of the sequence.
    if (Number.isNaN(v)) break;
    if (v < threshold) return { lag, timestep: timesteps - 1 - lag, threshold, reachesStart: false };
  }
  return { lag: null, timestep: null, threshold, reachesStart: true };
}

export type FlowStatus = 'vanishing' | 'exploding' | 'healthy' | 'unknown';

export interface FlowDiagnosis {
  status: FlowStatus;
  /** Every finding, in words, e.g. "horizon 4 of 100 timesteps at iteration 400". */
  reasons: string[];
  /** Horizon of every iteration (rows of the matrix). */
  horizons: Horizon[];
  /** L2 norm over all timesteps, per iteration (finite values only). */
  totals: Float64Array;
}

/** Horizon shorter than this fraction of the sequence (and at most SHORT_HORIZON_MAX steps) is "short". */
export const SHORT_HORIZON_FRACTION = 0.1;
/** Total norm ratio (orders of magnitude) counted as collapsing or exploding over training: 10³. */
export const GROWTH_FACTOR = 1e3;

/**
 * Flags a run's gradient flow from its norm matrix (iterations × timesteps, iteration-major).
 * - exploding: a non-finite value in any snapshot (`nonFinite` per iteration, from the snapshot index; the
 *   norms themselves leave non-finite values out) or in the norms, or the total norm of the latest iteration at
 *   least GROWTH_FACTOR × the first one's;
 * - vanishing: the latest iteration's horizon shorter than SHORT_HORIZON_FRACTION of the sequence, or its
 *   total norm at most 1 / GROWTH_FACTOR of the largest one seen earlier in training (norms collapsing);
 * - healthy otherwise; unknown without data.
 */
export function diagnoseFlow(
  iterations: readonly number[],
  timesteps: number,
  norms: ArrayLike<number>,
  nonFinite: readonly number[] = [],
): FlowDiagnosis {
  const n = iterations.length;
  const horizons: Horizon[] = [];
  const totals = new Float64Array(n);
  let nonFiniteNorm = -1;
  for (let i = 0; i < n; i++) {
    horizons.push(memoryHorizon(norms, timesteps, i * timesteps));
    let sum = 0;
    for (let t = 0; t < timesteps; t++) {
      const v = norms[i * timesteps + t]!;
      if (v === Number.POSITIVE_INFINITY && nonFiniteNorm < 0) nonFiniteNorm = i;
      if (Number.isFinite(v)) sum += v * v;
    }
    totals[i] = Math.sqrt(sum);
  }
  if (n === 0 || timesteps === 0)
    return { status: 'unknown', reasons: ['no recorded iterations'], horizons, totals };

  const reasons: string[] = [];
  let exploding = false;
  let vanishing = false;
  const badIndex = nonFinite.findIndex((k) => k > 0);
  if (badIndex >= 0) {
    exploding = true;
    reasons.push(
      `non-finite gradient values at iteration ${iterations[badIndex]} (${nonFinite[badIndex]} values)`,
    );
  } else if (nonFiniteNorm >= 0) {
    exploding = true;
    reasons.push(`infinite norm at iteration ${iterations[nonFiniteNorm]}`);
  }
  const first = totals[0]!;
  const latest = totals[n - 1]!;
  if (n > 1 && first > 0 && latest >= GROWTH_FACTOR * first) {
    exploding = true;
    reasons.push(
      `norm grew ${orders(latest / first)} orders of magnitude (iteration ${iterations[0]} → ${iterations[n - 1]})`,
    );
  }
  const lastHorizon = horizons[n - 1]!;
  const shortLimit = Math.max(1, Math.floor(SHORT_HORIZON_FRACTION * timesteps));
  if (timesteps >= 10 && lastHorizon.lag !== null && lastHorizon.lag < shortLimit) {
    vanishing = true;
    reasons.push(`horizon ${lastHorizon.lag} of ${timesteps} timesteps at iteration ${iterations[n - 1]}`);
  }
  let peak = 0;
  let peakAt = 0;
  for (let i = 0; i < n - 1; i++) {
    if (totals[i]! > peak) {
      peak = totals[i]!;
      peakAt = i;
    }
  }
  if (n > 1 && peak > 0 && latest * GROWTH_FACTOR <= peak) {
    vanishing = true;
    reasons.push(
      `norm collapsed ${orders(peak / Math.max(latest, Number.MIN_VALUE))} orders of magnitude (iteration ${iterations[peakAt]} → ${iterations[n - 1]})`,
    );
  }
  const status: FlowStatus = exploding ? 'exploding' : vanishing ? 'vanishing' : 'healthy';
  if (status === 'healthy') {
    reasons.push(
      lastHorizon.reachesStart
        ? `gradient reaches all ${timesteps} timesteps at iteration ${iterations[n - 1]}`
        : lastHorizon.lag === null
          ? `no gradient at the last timestep at iteration ${iterations[n - 1]}`
          : `horizon ${lastHorizon.lag} of ${timesteps} timesteps at iteration ${iterations[n - 1]}`,
    );
  }
  return { status, reasons, horizons, totals };
}

function orders(ratio: number): string {
  return Math.log10(ratio).toFixed(1);
}

/** log10 of every norm (zero → -Infinity, NaN stays NaN) and the finite range, for the flow heatmap. */
export function logNorms(norms: ArrayLike<number>): { values: Float32Array; lo: number; hi: number } {
  const values = new Float32Array(norms.length);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < norms.length; i++) {
    const v = norms[i]!;
    const l = v === null ? Number.NaN : Math.log10(v);
    values[i] = l;
    if (Number.isFinite(l)) {
      if (l < lo) lo = l;
      if (l > hi) hi = l;
    }
  }
  if (lo > hi) {
    lo = 0;
    hi = 1;
  }
  return { values, lo, hi };
}
