// Training scalars: every point of a name gathered into typed columns by an aggregate function (no JS
// object per row), then downsampled per bucket to its first, last, smallest and largest point.
import type { ScalarSeries } from '@gradscope/format';
import { StoreError } from '../errors.js';
import type { ScalarsOptions } from '../provider.js';
import type { ReadContext } from './context.js';

/** One scalar's points as columns. */
export type ScalarColumns = Pick<ScalarSeries, 'iterations' | 'values' | 'times'>;

/** Scalar points gathered column by column (see ScalarPoints.read); the arrays grow by doubling. */
class PointColumns {
  length = 0;
  private rowids = new Float64Array(1024);
  iterations = new Float64Array(1024);
  values = new Float64Array(1024);
  times = new Float64Array(1024);

  push(rowid: number, iteration: number, value: number, time: number): void {
    if (this.length === this.rowids.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.rowids = grow(this.rowids);
      this.iterations = grow(this.iterations);
      this.values = grow(this.values);
      this.times = grow(this.times);
    }
    const i = this.length++;
    this.rowids[i] = rowid;
    this.iterations[i] = iteration;
    this.values[i] = value;
    this.times[i] = time;
  }

  /** The points in (iteration, rowid) order, trimmed to their length; sorted only when they are not. */
  ordered(): ScalarColumns {
    const n = this.length;
    const { rowids, iterations: its } = this;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) {
      sorted = its[i - 1]! < its[i]! || (its[i - 1] === its[i] && rowids[i - 1]! < rowids[i]!);
    }
    if (sorted) {
      return { iterations: its.slice(0, n), values: this.values.slice(0, n), times: this.times.slice(0, n) };
    }
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => its[a]! - its[b]! || rowids[a]! - rowids[b]!,
    );
    const pick = (a: Float64Array) => Float64Array.from(order, (i) => a[i]!);
    return { iterations: pick(its), values: pick(this.values), times: pick(this.times) };
  }
}

/** Downsamples one name's points: per bucket of consecutive points, its first, last, min and max. */
/** EINVAL unless `maxPoints` is absent or an integer >= 4 (a bucket keeps 4 points). */
export function checkMaxPoints(options: ScalarsOptions): void {
  if (options.maxPoints !== undefined && (!Number.isInteger(options.maxPoints) || options.maxPoints < 4)) {
    throw new StoreError('EINVAL', `maxPoints must be an integer >= 4, got ${String(options.maxPoints)}`);
  }
}

export function bucketPoints(p: ScalarColumns, maxPoints: number | undefined): ScalarSeries {
  const { iterations: its, values: vals, times } = p;
  const n = its.length;
  if (maxPoints === undefined || n <= maxPoints) return { name: '', count: n, ...p };
  const buckets = Math.max(1, Math.floor(maxPoints / 4));
  const keep: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets);
    const to = Math.floor(((b + 1) * n) / buckets);
    if (to <= from) continue;
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const v = vals[i]!;
      if (Number.isNaN(v)) continue;
      if (lo < 0 || v < vals[lo]!) lo = i;
      if (hi < 0 || v > vals[hi]!) hi = i;
    }
    const picked = [from, lo, hi, to - 1].filter((i) => i >= 0).sort((a, b) => a - b);
    for (const i of picked) if (keep[keep.length - 1] !== i) keep.push(i);
  }
  const pick = (a: Float64Array) => Float64Array.from(keep, (i) => a[i]!);
  return { name: '', count: n, iterations: pick(its), values: pick(vals), times: pick(times) };
}

/** The scalars of one reader: registers its aggregate function once on the reader's connection. */
export class ScalarPoints {
  /** Where the gradscope_points aggregate writes while a query runs. */
  private points: PointColumns | undefined;
  private registered = false;

  constructor(private readonly c: ReadContext) {}

  /**
   * The training scalars of a run, one series per name (sorted by name), in iteration order. With
   * `maxPoints`, each series is cut into maxPoints / 4 buckets of consecutive points and keeps, per bucket,
   * its first, last, smallest and largest point (NaN values are kept only as first or last), so spikes
   * survive. `count` is the number of points stored.
   */
  scalars(run: string, options: ScalarsOptions): ScalarSeries[] {
    checkMaxPoints(options);
    const { c } = this;
    const key = c.runKey(run);
    return c.q('reading scalars', () => {
      const names = (
        c
          .stmt('SELECT DISTINCT name FROM scalars WHERE run_key = ? ORDER BY name')
          .pluck()
          .all(key) as string[]
      ).filter((n) => options.names === undefined || options.names.includes(n));
      return names.map((name) => ({ ...bucketPoints(this.read(key, name), options.maxPoints), name }));
    });
  }

  /**
   * Every point of one scalar, in iteration order (points of one iteration in the order written), as
   * columns: SQLite hands the rows to an aggregate function that writes them into typed arrays, which is
   * cheaper than a JS array per row through .all().
   */
  private read(runKey: number, name: string): ScalarColumns {
    if (!this.registered) {
      this.c.db.aggregate('gradscope_points', {
        start: 0,
        step: ((n: number, rowid: number, iteration: number, value: number | null, time: number) => {
          this.points!.push(rowid, iteration, value ?? Number.NaN, time);
          return n + 1;
        }) as unknown as (n: number, next: number) => number,
      });
      this.registered = true;
    }
    this.points = new PointColumns();
    try {
      // scalars_series is (run_key, name, iteration, value): rows come in iteration order, with points of one
      // iteration by value; PointColumns.ordered() puts those back in the order they were written.
      this.c
        .stmt(`
          SELECT gradscope_points(rowid, iteration, value, time) FROM (
            SELECT rowid, iteration, value, time FROM scalars WHERE run_key = ? AND name = ? ORDER BY iteration)`)
        .pluck()
        .get(runKey, name);
      return this.points.ordered();
    } finally {
      this.points = undefined;
    }
  }
}
