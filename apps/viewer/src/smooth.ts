// Loss-curve smoothing as TensorBoard's scalar dashboard does it: an exponential moving average whose start
// is debiased (so the first points are not pulled towards 0), non-finite points passed through.

/** TensorBoard's default smoothing weight. */
export const DEFAULT_SMOOTHING = 0.6;

/**
 * The debiased EMA of `values` with weight `weight` in [0, 1): s_n = m_n / (1 − w^k), m_n = w·m_(n−1) + (1 − w)·y_n,
 * k counting the finite points so far. Non-finite points are kept as they are and skipped by the average; a
 * constant series is returned as is (TensorBoard does the same, so rounding cannot make it wobble).
 */
export function smoothEma(values: ArrayLike<number>, weight: number): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  const w = Math.min(Math.max(weight, 0), 0.999);
  let constant = true;
  for (let i = 1; i < n && constant; i++) constant = values[i] === values[0];
  if (w === 0 || constant) {
    for (let i = 0; i < n; i++) out[i] = values[i]!;
    return out;
  }
  let last = 0;
  let debias = 1;
  for (let i = 0; i < n; i++) {
    const y = values[i]!;
    if (!Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * w + (1 - w) * y;
    debias *= w;
    out[i] = last / (1 - debias);
  }
  return out;
}
