// The run page's bounded view of one series: the columnar, downsampled index of GET /api/runs/:run/series
// (iterations and whole-tensor summaries, at most SERIES_ROWS rows however long the run) as the SnapshotInfo
// rows the figures read, plus the exact rows of iterations a URL names that a downsampled index left out.
// Only the drawn snapshots' tensors are ever fetched (figure.ts); tables page through `limit`/`offset`.
import { decodeMatrix, SERIES_COLUMNS, type SeriesResponse } from '@gradscope/format';
import { ApiError, type SeriesKey, type SnapshotInfo, type SnapshotPage } from './api';
import { stepIteration } from './iterations';

/**
 * Rows of the index the run page loads, whatever the run's length: an iteration picker's worth (the flow map
 * shows 500). Each row becomes an option of every iteration picker, so the page's own work grows with it:
 * at 2000 rows the run page of a 10,000-snapshot run took 1.5× that of a 1,000 one (scripts/bench/viewer-scale.mjs).
 */
export const SERIES_ROWS = 1000;

/** What SeriesIndex needs of the Api (the tests pass a fake). */
export interface SeriesSource {
  series(run: string, key: SeriesKey, max?: number): Promise<SeriesResponse>;
  snapshotRows(run: string, key: SeriesKey, page: SnapshotPage): Promise<SnapshotInfo[]>;
  snapshot(id: number): Promise<SnapshotInfo>;
  /** Every row of a series (servers without the series route). */
  snapshots(run: string, key: SeriesKey): Promise<SnapshotInfo[]>;
}

const COLUMNS = SERIES_COLUMNS;

/** GET /api/runs/:run/series decoded: one Float64Array per column, `rows` long (NaN for null). */
export type SeriesColumns = { count: number; rows: number } & Record<(typeof COLUMNS)[number], Float64Array>;

/** Decodes the series route's answer; throws when a column is not `rows` float64 values. */
export function decodeSeries(res: SeriesResponse): SeriesColumns {
  const out = { count: res.count, rows: res.rows } as SeriesColumns;
  for (const c of COLUMNS) {
    const m = res[c];
    const values = m ? decodeMatrix(m) : null;
    if (!(values instanceof Float64Array) || values.length !== res.rows)
      throw new Error(`the series index column ${c} is not ${res.rows} float64 values`);
    out[c] = values;
  }
  return out;
}

const orNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The row belongs to the series (a null part is the whole layer output, not "any part"). */
export function ofSeries(x: SnapshotInfo, key: SeriesKey): boolean {
  return x.layer === key.layer && x.kind === key.kind && (x.part ?? null) === key.part;
}

/**
 * The index's rows as SnapshotInfo. Per-row fields (id, iteration, time, loss, statistics, horizon) come from
 * the columns; what the index does not carry (shape, dims, channel parts, layer class, value count, epoch and
 * batch) from `template`, a stored row of the same series (a series keeps one shape).
 */
export function indexRows(cols: SeriesColumns, template: SnapshotInfo): SnapshotInfo[] {
  const rows: SnapshotInfo[] = new Array(cols.rows);
  for (let i = 0; i < cols.rows; i++) {
    const nonFinite = cols.nonFinite[i]!;
    rows[i] = {
      ...template,
      id: cols.ids[i]!,
      iteration: cols.iterations[i]!,
      time: cols.time[i]!,
      loss: orNull(cols.loss[i]!),
      nonFinite: Number.isFinite(nonFinite) ? nonFinite : 0,
      summary: {
        l2: orNull(cols.l2[i]!),
        maxAbs: orNull(cols.maxAbs[i]!),
        min: orNull(cols.min[i]!),
        max: orNull(cols.max[i]!),
        mean: orNull(cols.mean[i]!),
        std: orNull(cols.std[i]!),
        nonFinite: Number.isFinite(nonFinite) ? nonFinite : 0,
        count: template.summary.count,
        horizon: orNull(cols.horizon[i]!),
        t0Ratio: orNull(cols.t0Ratio[i]!),
      },
    };
  }
  return rows;
}

/** `rows` with `exact` ones added (an exact row replaces an index row of the same id), by (iteration, id). */
export function mergeRows(rows: readonly SnapshotInfo[], exact: readonly SnapshotInfo[]): SnapshotInfo[] {
  const byId = new Map(rows.map((x) => [x.id, x]));
  for (const x of exact) byId.set(x.id, x);
  return [...byId.values()].sort((a, b) => a.iteration - b.iteration || a.id - b.id);
}

/** Rows per request when stepping through a downsampled index, and requests before giving up. */
const STEP_ROWS = 64;
const STEP_PAGES = 8;

/** The bounded index of one series, with exact rows looked up on demand. */
export class SeriesIndex {
  private rowList: SnapshotInfo[];
  /** Iterations already looked up (found or not): each is asked once. */
  private readonly looked = new Set<number>();

  private constructor(
    private readonly src: SeriesSource,
    readonly run: string,
    readonly key: SeriesKey,
    /** Snapshots the series holds (before downsampling). */
    readonly count: number,
    rows: SnapshotInfo[],
  ) {
    this.rowList = rows;
    for (const x of rows) this.looked.add(x.iteration);
  }

  /** Loads at most `max` rows: the columnar index and one full row (for shape and dims), in parallel. */
  static async load(src: SeriesSource, run: string, key: SeriesKey, max = SERIES_ROWS): Promise<SeriesIndex> {
    const [res, first] = await Promise.all([
      src.series(run, key, max).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }),
      src.snapshotRows(run, key, { limit: 1 }),
    ]);
    if (res === null) {
      // No series rows. A row of this very series means a server (or store) without series chunks:
      // fall back to the full listing rather than show nothing.
      if (first.some((x) => ofSeries(x, key))) {
        const all = (await src.snapshots(run, key)).filter((x) => ofSeries(x, key));
        return new SeriesIndex(src, run, key, all.length, mergeRows([], all));
      }
      return new SeriesIndex(src, run, key, 0, []);
    }
    const cols = decodeSeries(res);
    if (cols.rows === 0) return new SeriesIndex(src, run, key, cols.count, []);
    // Without a part the listing holds every part: its first row may not be of this series.
    const template = first.find((x) => ofSeries(x, key)) ?? (await src.snapshot(cols.ids[0]!));
    return new SeriesIndex(src, run, key, cols.count, mergeRows([], indexRows(cols, template)));
  }

  /** The rows held, ascending by (iteration, id). */
  get rows(): SnapshotInfo[] {
    return this.rowList;
  }

  /** True when the index holds fewer rows than the series has snapshots. */
  get downsampled(): boolean {
    return this.rowList.length < this.count;
  }

  /**
   * The rows, plus those of the `wanted` iterations a downsampled index left out (asked once each with
   * `from`/`to`, a few rows): an iteration named in a URL stays shown at any run length.
   */
  async withIterations(wanted: readonly number[]): Promise<SnapshotInfo[]> {
    if (!this.downsampled) return this.rowList;
    const ask = [...new Set(wanted)].filter((it) => Number.isFinite(it) && !this.looked.has(it));
    if (ask.length === 0) return this.rowList;
    const found = await Promise.all(
      ask.map((it) => this.src.snapshotRows(this.run, this.key, { from: it, to: it })),
    );
    for (const it of ask) this.looked.add(it);
    const exact = found.flat().filter((x) => ofSeries(x, this.key));
    if (exact.length > 0) this.rowList = mergeRows(this.rowList, exact);
    return this.rowList;
  }

  /**
   * ← / → on the run page: `chosen` with its last iteration moved to the neighbouring recorded one (not past the
   * one before it, not onto one already chosen), or null at either end. A downsampled index holds only every
   * n-th iteration, so then the neighbour is asked of the server (`from`/`to` with `limit`, newest first going
   * back) and its row joins the index: stepping visits every recorded iteration at any run length.
   */
  async step(chosen: readonly number[], dir: 1 | -1): Promise<number[] | null> {
    const last = chosen[chosen.length - 1];
    if (!this.downsampled || last === undefined)
      return stepIteration(chosen, [...new Set(this.rowList.map((x) => x.iteration))], dir);
    const floor = chosen.length > 1 ? chosen[chosen.length - 2]! : Number.NEGATIVE_INFINITY;
    const taken = new Set(chosen);
    // Without a part the listing holds every part, so a page may hold none of this series: page on.
    for (let pages = 0; pages < STEP_PAGES; pages++) {
      const offset = pages * STEP_ROWS;
      const page: SnapshotPage =
        dir > 0
          ? { from: last + 1, limit: STEP_ROWS, ...(offset ? { offset } : {}) }
          : { to: last - 1, order: 'desc', limit: STEP_ROWS, ...(offset ? { offset } : {}) };
      const rows = await this.src.snapshotRows(this.run, this.key, page);
      if (rows.length === 0) return null;
      for (const x of rows) {
        if (!ofSeries(x, this.key)) continue;
        if (x.iteration <= floor) return null;
        if (taken.has(x.iteration)) continue;
        this.rowList = mergeRows(this.rowList, [x]);
        this.looked.add(x.iteration);
        return [...chosen.slice(0, -1), x.iteration];
      }
    }
    return null;
  }

  /** One page of the series' rows, for a table: `pageSize` rows from row `page × pageSize` (server-side paging). */
  async page(page: number, pageSize: number): Promise<SnapshotInfo[]> {
    const rows = await this.src.snapshotRows(this.run, this.key, {
      limit: pageSize,
      offset: Math.max(0, page) * pageSize,
    });
    return rows.filter((x) => ofSeries(x, this.key));
  }
}

/**
 * Every part of one layer and kind at the given iterations (the weights page): one small listing per
 * iteration (`from`/`to` without a part answers every part), never the whole run.
 */
export async function partRowsAt(
  src: Pick<SeriesSource, 'snapshotRows'>,
  run: string,
  layer: string,
  kind: SeriesKey['kind'],
  parts: readonly (string | null)[],
  iterations: readonly number[],
): Promise<SnapshotInfo[]> {
  const wanted = new Set(parts.map((p) => p ?? ''));
  const lists = await Promise.all(
    [...new Set(iterations)].map((it) =>
      src.snapshotRows(run, { layer, kind, part: null }, { from: it, to: it }),
    ),
  );
  return lists
    .flat()
    .filter((x) => wanted.has(x.part ?? '') && x.layer === layer && x.kind === kind)
    .sort((a, b) => a.iteration - b.iteration || a.id - b.id);
}
