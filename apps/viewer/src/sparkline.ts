// A loss sparkline for a gallery card: the curve and its baseline as SVG paths in a small box.

/** SVG path data of a curve and the baseline's y (null: none), in a `width` × `height` box with 2 px padding. */
export function sparkline(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  baseline: number | null,
  width: number,
  height: number,
): { path: string; baselineY: number | null } {
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let lo = baseline ?? Number.POSITIVE_INFINITY;
  let hi = baseline ?? Number.NEGATIVE_INFINITY;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i]!;
    if (!Number.isFinite(y)) continue;
    x0 = Math.min(x0, xs[i]!);
    x1 = Math.max(x1, xs[i]!);
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
  }
  if (!(x1 >= x0) || !(hi >= lo)) return { path: '', baselineY: null };
  const pad = 2;
  const sx = (x: number) =>
    pad + (x1 > x0 ? ((x - x0) / (x1 - x0)) * (width - 2 * pad) : (width - 2 * pad) / 2);
  const sy = (y: number) =>
    pad + (hi > lo ? ((hi - y) / (hi - lo)) * (height - 2 * pad) : (height - 2 * pad) / 2);
  let path = '';
  let pen = 'M';
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i]!;
    if (!Number.isFinite(y)) {
      pen = 'M';
      continue;
    }
    path += `${pen}${sx(xs[i]!).toFixed(1)},${sy(y).toFixed(1)}`;
    pen = 'L';
  }
  return { path, baselineY: baseline === null ? null : Number(sy(baseline).toFixed(1)) };
}
