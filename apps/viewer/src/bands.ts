// A group of runs drawn as one band: at each x, the mean of the runs' values with mean ± one standard deviation
// or the range (min–max) around it, and n, the runs that have a value there. Curves recorded at different
// x (iterations) are read on one grid by linear interpolation inside each curve's own range, never beyond it.
import type { Band } from './compareState';

/** The band at one x. */
export interface BandPoint {
  /** Runs with a finite value here. */
  n: number;
  mean: number;
  /** Population standard deviation (ddof = 0, as the doctor's group summaries). */
  std: number;
  min: number;
  max: number;
}

/** Mean, population standard deviation and range of the finite values; null when there is none. */
export function bandPoint(values: readonly (number | null | undefined)[]): BandPoint | null {
  let n = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return null;
  const mean = sum / n;
  let sq = 0;
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) sq += (v - mean) ** 2;
  return { n, mean, std: Math.sqrt(sq / n), min, max };
}

/** The band's lower and upper edge at a point: mean ∓ std, or min and max. */
export function bandEdges(p: BandPoint, band: Band): [number, number] {
  return band === 'std' ? [p.mean - p.std, p.mean + p.std] : [p.min, p.max];
}

/** One run's curve: y at increasing x. */
export interface Curve {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/**
 * A curve's value at x: its own value where it has one at x, linear between its two neighbours inside its range,
 * null outside it or next to a non-finite value.
 */
export function valueAt(c: Curve, x: number): number | null {
  const n = c.x.length;
  if (n === 0 || x < c.x[0]! || x > c.x[n - 1]!) return null;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (c.x[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const pick = (i: number) => (Number.isFinite(c.y[i]!) ? c.y[i]! : null);
  if (c.x[lo] === x) return pick(lo);
  if (c.x[hi] === x) return pick(hi);
  const a = pick(lo);
  const b = pick(hi);
  if (a === null || b === null) return null;
  const t = (x - c.x[lo]!) / (c.x[hi]! - c.x[lo]!);
  return a + (b - a) * t;
}

/** Every x of the curves, ascending, at most `max` of them (evenly spaced through the union when more). */
export function unionGrid(curves: readonly Curve[], max = 400): number[] {
  const all = new Set<number>();
  for (const c of curves) for (let i = 0; i < c.x.length; i++) if (Number.isFinite(c.x[i]!)) all.add(c.x[i]!);
  const xs = [...all].sort((a, b) => a - b);
  if (xs.length <= max) return xs;
  const out: number[] = [];
  for (let k = 0; k < max; k++) out.push(xs[Math.round((k * (xs.length - 1)) / (max - 1))]!);
  return [...new Set(out)];
}

/** The band of several curves on a grid: one BandPoint (or null where no curve has a value) per grid x. */
export function curveBand(curves: readonly Curve[], grid: readonly number[]): (BandPoint | null)[] {
  return grid.map((x) => bandPoint(curves.map((c) => valueAt(c, x))));
}

/**
 * The columns a chart draws of a band: mean, lower and upper edge per grid x (null where there is no value, or
 * where an edge is not positive on a log axis).
 */
export function bandColumns(
  points: readonly (BandPoint | null)[],
  band: Band,
  logY: boolean,
): { mean: (number | null)[]; lo: (number | null)[]; hi: (number | null)[]; n: (number | null)[] } {
  const ok = (v: number) => (Number.isFinite(v) && (!logY || v > 0) ? v : null);
  const mean: (number | null)[] = [];
  const lo: (number | null)[] = [];
  const hi: (number | null)[] = [];
  const n: (number | null)[] = [];
  for (const p of points) {
    if (p === null) {
      mean.push(null);
      lo.push(null);
      hi.push(null);
      n.push(null);
      continue;
    }
    const [a, b] = bandEdges(p, band);
    mean.push(ok(p.mean));
    // On a log axis a mean − std at or below 0 is drawn from the smallest value instead (the band stays visible).
    lo.push(ok(a) ?? (logY ? ok(p.min) : null));
    hi.push(ok(b));
    n.push(p.n);
  }
  return { mean, lo, hi, n };
}
