// The memory horizon of a gradient over time: one definition, computed by the store's summary pass and only
// read by the server and the viewer.

/** A timestep counts towards the horizon when its norm is at least this fraction of the largest one. */
export const HORIZON_FRACTION = 0.01;

/** How far back in time a gradient reaches (ScalarSummary.horizon / t0Ratio). */
export interface MemoryHorizon {
  /** Earliest timestep t with norm(t) ≥ HORIZON_FRACTION × max norm; null when there is none. */
  horizon: number | null;
  /** norm(0) / max norm; null as `horizon`. */
  t0Ratio: number | null;
}

/**
 * The memory horizon of one snapshot (or channel part) from its per-timestep L2 norms. Both fields are null
 * when there is no timestep axis (`norms` null or empty) or every norm is 0; non-finite norms are skipped.
 */
export function memoryHorizon(norms: ArrayLike<number> | null): MemoryHorizon {
  if (!norms || norms.length === 0) return { horizon: null, t0Ratio: null };
  let max = 0;
  for (let t = 0; t < norms.length; t++) {
    const v = norms[t]!;
    if (v > max && v !== Number.POSITIVE_INFINITY) max = v;
  }
  if (!(max > 0)) return { horizon: null, t0Ratio: null };
  const threshold = HORIZON_FRACTION * max;
  let horizon = 0;
  while (!(norms[horizon]! >= threshold && norms[horizon]! <= max)) horizon++;
  const n0 = norms[0]!;
  return { horizon, t0Ratio: Number.isFinite(n0) ? n0 / max : null };
}
