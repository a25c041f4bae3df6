// Gradient flow over time and training, as the /flow route sends it: the stored memory horizon of every row, the
// 1% threshold lines and what each kind's figure is called. The horizon is data, not a verdict: the verdict of a
// layer is @gradscope/format's `diagnose`, fetched from the server (views/verdict.ts).
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

/**
 * What a flow figure of a kind is called, and whether it is a gradient (only gradients get a memory horizon: the
 * loss gradients and the loss-free jacobian, ∂h_T/∂x_t).
 */
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
    case 'jacobian':
      // ∂(v·h_T)/∂x_t: a gradient, but of the layer's last state, not of the loss (a loss-free sensitivity).
      return {
        title: 'Sensitivity flow — jacobian (∂h_T/∂x_t, loss-free)',
        symbol: '‖∂h_T/∂x_t‖',
        whole: 'whole layer input',
        noun: 'sensitivity flow',
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
