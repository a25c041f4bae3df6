// Scales the figures share, none of them a view: log10 norms on one colour range, log y ranges over whole
// decades, the symmetric norm of a diverging scale, timestep ticks, the nearest recorded iteration, and the
// colour of each compared iteration. Pure (no DOM), so they are unit-tested in Node (scales.test.ts).
import { schemeDark2 } from 'd3-scale-chromatic';
import { logNorms } from './flow';
import { integerTicks } from './layout';
import { maxAbs, quantileAbs } from './tensor';

/** Most decades a log scale spans: below that, norms have vanished (and uPlot's log ticks would explode). */
export const MAX_DECADES = 16;

/**
 * log10 of every matrix's norms on one colour range for all of them: the finite range, at most MAX_DECADES
 * deep (norms that vanished to float32's smallest values would stretch the colours over 40 decades).
 */
export function sharedLogNorms(matrices: readonly ArrayLike<number>[]): {
  logs: Float32Array[];
  lo: number;
  hi: number;
} {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const logs = matrices.map((m) => {
    const l = logNorms(m);
    lo = Math.min(lo, l.lo);
    hi = Math.max(hi, l.hi);
    return l.values;
  });
  lo = Math.max(lo, hi - MAX_DECADES);
  if (hi === lo) hi = lo + 1;
  return { logs, lo, hi };
}

/** Ticks of a flow map's colorbar: whole decades over [lo, hi]. */
export function decadeTicks(lo: number, hi: number): number[] {
  return integerTicks(Math.floor(hi) - Math.ceil(lo) + 1, 6).map((k) => Math.ceil(lo) + k);
}

/**
 * A log y range over whole decades covering the positive finite values (at most MAX_DECADES below the largest)
 * and its tick values, at most 8 of them.
 */
export function logRange(rows: readonly Float32Array[]): { lo: number; hi: number; splits: number[] } {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const row of rows)
    for (let i = 0; i < row.length; i++) {
      const v = row[i]!;
      if (v > 0 && v < Number.POSITIVE_INFINITY) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  if (!(max > 0)) return { lo: 1e-3, hi: 1, splits: [1e-3, 1e-2, 1e-1, 1] };
  const top = Math.ceil(Math.log10(max));
  const bottom = Math.max(Math.floor(Math.log10(min)), top - MAX_DECADES);
  const lo = bottom < top ? bottom : top - 1;
  const step = Math.max(1, Math.ceil((top - lo) / 8));
  const splits: number[] = [];
  for (let e = top; e >= lo; e -= step) splits.unshift(10 ** e);
  return { lo: 10 ** lo, hi: 10 ** top, splits };
}

/** Tick positions for a timestep axis of T steps in `width` px: whole timesteps, about one per 60 px. */
export function timestepSplits(T: number, width: number): number[] {
  return integerTicks(T, Math.max(2, Math.floor(width / 60)));
}

/**
 * The symmetric norm a of (-a, a): manual, or from the values shown (`shown`: per compared iteration, only the
 * samples, timesteps and channels on screen; shared across the compared iterations).
 */
export function resolveNorm(
  norm: 'auto' | 'p99' | number,
  shown: readonly Float32Array[],
): { a: number; auto: boolean } {
  if (typeof norm === 'number') return { a: norm, auto: false };
  const a = norm === 'p99' ? quantileAbs(shown, 0.99) : maxAbs(shown);
  return { a: a > 0 ? a : 1e-12, auto: true };
}

/** Colour of the i-th compared iteration, the same in every figure that marks them. */
export function iterationColor(i: number): string {
  return schemeDark2[i % schemeDark2.length]!;
}

/** Index of the value in an ascending list nearest to `v` (-1 for an empty list). */
export function nearestIndex(sorted: readonly number[], v: number): number {
  let best = -1;
  let dist = Number.POSITIVE_INFINITY;
  for (let i = 0; i < sorted.length; i++) {
    const d = Math.abs(sorted[i]! - v);
    if (d < dist) {
      dist = d;
      best = i;
    }
  }
  return best;
}
