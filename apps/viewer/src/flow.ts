// Gradient flow over time and training, as the /flow route sends it: the stored memory horizon of every row, the
// 1% threshold lines, what each kind's figure is called, and the vanishing/exploding badge of a run.
//
// The memory horizon has one definition, @gradscope/format's `memoryHorizon`, computed by the store's summary
// pass for every snapshot and channel part: the EARLIEST timestep t (input time order, 0 = the first input)
// whose per-timestep L2 norm is ≥ HORIZON_FRACTION (1%) of the largest per-timestep norm of that row, and
// t0Ratio = norm(t = 0) / that largest norm. The viewer only reads them (FlowResponse.horizon / t0Ratio,
// partHorizons; a summary's horizon / t0Ratio for rows the server left out): nothing here recomputes them.
import { type FlowResponse, HORIZON_FRACTION, type HorizonRows, type Kind } from '@gradscope/format';

export { HORIZON_FRACTION };

/** One row's stored horizon. */
export interface RowHorizon {
  /** Earliest timestep with norm ≥ 1% of the row's largest; null when unknown (no timestep axis, all zero). */
  horizon: number | null;
  /** norm(t = 0) / the row's largest per-timestep norm; null as `horizon`. */
  t0Ratio: number | null;
}

/**
 * The stored horizon of every row of one matrix of a flow response: `part` '' is the series itself, otherwise a
 * channel part (partHorizons). Rows the server sent no value for are null (unknown), never computed here.
 */
export function storedHorizons(flow: FlowResponse, part = ''): RowHorizon[] {
  const rows: Partial<HorizonRows> | undefined = part ? flow.partHorizons?.[part] : flow;
  return flow.iterations.map((_, i) => ({
    horizon: rows?.horizon?.[i] ?? null,
    t0Ratio: rows?.t0Ratio?.[i] ?? null,
  }));
}

/**
 * The 1% threshold of one row: HORIZON_FRACTION × its largest finite per-timestep norm (the level the horizon
 * is measured against: the row's horizon is the first timestep at or above it). NaN when the row has no
 * positive finite norm. norms[offset … offset + T).
 */
export function rowThreshold(norms: ArrayLike<number>, timesteps: number, offset = 0): number {
  let max = 0;
  for (let t = 0; t < timesteps; t++) {
    const v = norms[offset + t]!;
    if (v > max && v < Number.POSITIVE_INFINITY) max = v;
  }
  return max > 0 ? HORIZON_FRACTION * max : Number.NaN;
}

/** What a flow figure of a kind is called, and whether it is a gradient (only gradients get a badge). */
export interface FlowLabels {
  /** Figure title, e.g. "Gradient flow — input-grad (dL/d input)". */
  title: string;
  /** The per-timestep norm, e.g. "‖dL/dx_t‖". */
  symbol: string;
  /** The map of the whole series (not a direction), e.g. "whole layer input". */
  whole: string;
  /** Short name for canvas labels, e.g. "gradient flow". */
  noun: string;
  gradient: boolean;
}

export function flowLabels(kind: Kind): FlowLabels {
  switch (kind) {
    case 'output-grad':
      return {
        title: 'Gradient flow — output-grad (dL/d output)',
        symbol: '‖dL/dy_t‖',
        whole: 'whole layer output',
        noun: 'gradient flow',
        gradient: true,
      };
    case 'input-grad':
      return {
        title: 'Gradient flow — input-grad (dL/d input)',
        symbol: '‖dL/dx_t‖',
        whole: 'whole layer input',
        noun: 'gradient flow',
        gradient: true,
      };
    case 'output':
      return {
        title: 'Activation norms over training',
        symbol: '‖y_t‖',
        whole: 'whole layer output',
        noun: 'activation norms',
        gradient: false,
      };
    default:
      return {
        title: `Norms over training — ${kind}`,
        symbol: '‖v_t‖',
        whole: 'whole tensor',
        noun: `${kind} norms`,
        gradient: kind.endsWith('grad'),
      };
  }
}

/** The flow view's tab for a kind, from its figure's noun: "Gradient flow", "Activation norms". */
export function flowTabLabel(kind: Kind): string {
  const { noun } = flowLabels(kind);
  return noun.charAt(0).toUpperCase() + noun.slice(1);
}

/**
 * What the horizon means for a direction, in words, for the figure's note. The store measures every part in
 * input time order (a backward direction's snapshot is flipped back to input order), from t = 0.
 */
export function horizonMeaning(direction: string | null): string {
  const base = `○ horizon: earliest timestep whose norm is ≥ ${HORIZON_FRACTION * 100}% of that iteration's largest`;
  if (direction !== 'backward') return `${base} (the gradient reaches back that far)`;
  return (
    `${base}, in input time order. The backward direction reads the sequence from the last timestep to the ` +
    'first, so its most recent step is t = 0: here the horizon says whether the gradient reaches the START ' +
    'of the input, not how many of this direction’s own steps it crosses'
  );
}

/** "2e-7", "0.022", "1", "0": a ratio at a glance; "—" when unknown. */
export function formatRatio(r: number | null): string {
  if (r === null || Number.isNaN(r)) return '—';
  if (r === 0) return '0';
  if (Math.abs(r) >= 0.01) return String(Number(r.toPrecision(2)));
  return r.toExponential(0);
}

/** "horizon 3 of 50 timesteps at iteration 400 (norm(t=0)/max = 2e-7)". */
export function describeHorizon(h: RowHorizon, timesteps: number, iteration: number): string {
  if (h.horizon === null) return `no horizon at iteration ${iteration} (every norm 0, or none stored)`;
  return `horizon ${h.horizon} of ${timesteps} timesteps at iteration ${iteration} (norm(t=0)/max = ${formatRatio(h.t0Ratio)})`;
}

export type FlowStatus = 'vanishing' | 'exploding' | 'healthy' | 'unknown';

export interface FlowDiagnosis {
  status: FlowStatus;
  /** Every finding, in words, e.g. "horizon 4 of 100 timesteps at iteration 400 (norm(t=0)/max = 2e-7)". */
  reasons: string[];
  /** The stored horizon of every iteration (rows of the matrix). */
  horizons: RowHorizon[];
  /** L2 norm over all timesteps, per iteration (finite values only). */
  totals: Float64Array;
}

/** norm(t=0)/max below this at the latest iteration: the gradient no longer reaches the first timestep. */
export const VANISHING_T0_RATIO = 1e-3;
/** Horizon beyond this fraction of the sequence at the latest iteration: the first part is out of reach. */
export const LATE_HORIZON_FRACTION = 0.5;
/** Total norm ratio (orders of magnitude) counted as collapsing or exploding over training: 10³. */
export const GROWTH_FACTOR = 1e3;

/**
 * Flags a run's gradient flow from its norm matrix (iterations × timesteps, iteration-major) and the stored
 * horizon of every row. The rule:
 * - exploding: a non-finite value in any snapshot (`nonFinite` per iteration, from the snapshot index; the
 *   norms themselves leave non-finite values out) or an infinite norm, or the total norm of the latest
 *   iteration at least GROWTH_FACTOR × the first one's;
 * - vanishing: at the LATEST iteration, the stored t0Ratio < VANISHING_T0_RATIO (the first timestep gets less
 *   than 1/1000 of the peak) or the stored horizon > LATE_HORIZON_FRACTION × timesteps (the first half of the
 *   sequence is below 1% of the peak); or the total norm at most 1 / GROWTH_FACTOR of the largest one seen
 *   earlier in training (norms collapsing);
 * - exploding wins over vanishing; healthy otherwise; unknown without rows, or when the latest row has no
 *   stored horizon (all norms zero) and nothing else was found.
 * The horizon is in input time order for every part, a backward direction too (see horizonMeaning).
 */
export function diagnoseFlow(
  iterations: readonly number[],
  timesteps: number,
  norms: ArrayLike<number>,
  horizons: readonly RowHorizon[],
  nonFinite: readonly number[] = [],
): FlowDiagnosis {
  const n = iterations.length;
  const totals = new Float64Array(n);
  let nonFiniteNorm = -1;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let t = 0; t < timesteps; t++) {
      const v = norms[i * timesteps + t]!;
      if (v === Number.POSITIVE_INFINITY && nonFiniteNorm < 0) nonFiniteNorm = i;
      if (Number.isFinite(v)) sum += v * v;
    }
    totals[i] = Math.sqrt(sum);
  }
  const rows = iterations.map((_, i) => horizons[i] ?? { horizon: null, t0Ratio: null });
  if (n === 0 || timesteps === 0)
    return { status: 'unknown', reasons: ['no recorded iterations'], horizons: rows, totals };

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
  const last = rows[n - 1]!;
  const lastText = describeHorizon(last, timesteps, iterations[n - 1]!);
  if (
    last.horizon !== null &&
    ((last.t0Ratio !== null && last.t0Ratio < VANISHING_T0_RATIO) ||
      last.horizon > LATE_HORIZON_FRACTION * timesteps)
  ) {
    vanishing = true;
    reasons.push(lastText);
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
  const status: FlowStatus = exploding
    ? 'exploding'
    : vanishing
      ? 'vanishing'
      : last.horizon === null
        ? 'unknown'
        : 'healthy';
  if (!vanishing) reasons.push(lastText);
  return { status, reasons, horizons: rows, totals };
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
