// The figures of one series (flow matrix, histograms, the index as columns), read from the precomputed chunk
// levels of series_chunks (chunks.ts): sublinear in the snapshots of the series, downsampled here.
import type { FlowMatrix, HistogramSeries, HorizonRows, SeriesIndex } from '@gradscope/format';
import { CHUNK_STATS, type ChunkStat } from '../columns.js';
import { NotFoundError } from '../errors.js';
import { HISTOGRAM_BUCKETS, HISTOGRAM_EDGES, histogramPercentiles, PERCENTILES } from '../histogram.js';
import type { SeriesKey, SeriesOptions } from '../provider.js';
import type { ReadContext } from './context.js';
import { type ChunkRow, SeriesRows } from './rows.js';

/** The chunk columns each figure reads (SQLite reads a row's overflow pages only up to the last one asked). */
const COLUMNS = {
  flow: "c.timestep_norms, x'' AS histograms, x'' AS minmax, c.stats",
  histogram: "x'' AS timestep_norms, c.histograms, c.minmax, x'' AS stats",
  index: "x'' AS timestep_norms, x'' AS histograms, c.minmax, c.stats",
} as const;

/** The snapshots of a series per level (those of the whole tensor), from the index of counts alone. */
export const LEVELS_SQL = `
  SELECT c.level, sum(c.count) AS n FROM series s JOIN series_chunks c ON c.series_key = s.key
  WHERE s.run_key = ? AND s.layer = ? AND s.kind = ? AND s.part = ? AND c.channel_part = ''
  GROUP BY c.level`;

/**
 * The chunk rows of one series, or a NotFoundError naming it. With `maxRows`, the rows come from the
 * sparsest level that still holds at least maxRows snapshots (see chunks.ts), plus the newest snapshot.
 */
function series(
  c: ReadContext,
  key: SeriesKey,
  what: keyof typeof COLUMNS,
  options: SeriesOptions,
): SeriesRows {
  const columns = COLUMNS[what];
  const runKey = c.runKey(key.run);
  const args = [runKey, key.layer, key.kind, key.part ?? ''];
  const levels = c.q(
    'reading a series',
    () => c.stmt(LEVELS_SQL).all(...args) as { level: number; n: number }[],
  );
  const total = levels.find((l) => l.level === 0)?.n ?? 0;
  if (total === 0) throw noSeries(c.path, key, what, '');
  let level = 0;
  if (options.maxRows !== undefined) {
    for (const l of levels) if (l.level > level && l.n >= options.maxRows) level = l.level;
  }
  // The series' channel parts first, then each part's chunks at the level and its last chunk of level 0 by
  // index ranges: a single query with `level = ? OR (level = 0 AND …)` scanned every chunk of the series
  // (10 ms for one of 50,000 snapshots through the server's page cache, 0.4 ms this way, measured).
  const rows = c.q('reading a series', () =>
    c
      .stmt(`
        WITH k AS (SELECT key FROM series WHERE run_key = @run AND layer = @layer AND kind = @kind AND part = @part),
        p AS (SELECT DISTINCT c.series_key, c.channel_part FROM k JOIN series_chunks c ON c.series_key = k.key),
        l AS (SELECT p.series_key, p.channel_part, (SELECT max(x.chunk) FROM series_chunks x
          WHERE x.series_key = p.series_key AND x.channel_part = p.channel_part AND x.level = 0) AS chunk FROM p)
        SELECT c.channel_part, c.level, c.count, c.width, c.ids, c.iterations, ${columns}, c.chunk
        FROM p JOIN series_chunks c ON c.series_key = p.series_key AND c.channel_part = p.channel_part
          AND c.level = @level
        UNION ALL
        SELECT c.channel_part, c.level, c.count, c.width, c.ids, c.iterations, ${columns}, c.chunk
        FROM l JOIN series_chunks c ON c.series_key = l.series_key AND c.channel_part = l.channel_part
          AND c.level = 0 AND c.chunk = l.chunk
        WHERE @level > 0
        -- part, level (descending), chunk: the 1st, 2nd and 11th columns.
        ORDER BY 1, 2 DESC, 11`)
      .all({ run: runKey, layer: key.layer, kind: key.kind, part: key.part ?? '', level }),
  ) as ChunkRow[];
  return new SeriesRows(rows, options, level, total);
}

/** ENOTFOUND naming the series (and why, when it exists but holds no such data). */
export function noSeries(path: string, key: SeriesKey, what: string, why: string): NotFoundError {
  return new NotFoundError(
    { what: 'series', run: key.run, layer: key.layer, kind: key.kind, part: key.part ?? null },
    `no ${what} data for run ${JSON.stringify(key.run)} layer ${JSON.stringify(key.layer)} kind ${key.kind}${key.part ? ` part ${JSON.stringify(key.part)}` : ''}${why}`,
    path,
  );
}

/**
 * Per-timestep L2 norms of the recorded iterations of one series (at most `maxRows` rows, evenly spaced),
 * with each row's memory horizon. Per channel part too for bidirectional concat layers (a part missing at
 * some iteration gives a NaN row).
 */
export function flowMatrix(c: ReadContext, key: SeriesKey, options: SeriesOptions): FlowMatrix {
  const rows = series(c, key, 'flow', options);
  if (rows.width === 0) throw noSeries(c.path, key, 'flow', ": its tensors have no 'timestep' axis");
  return flowOf(rows);
}

/** The flow matrix of a series' rows (any backend's: see SeriesRows). */
export function flowOf(rows: SeriesRows): FlowMatrix {
  const flow: FlowMatrix = {
    ids: rows.ids(),
    iterations: rows.iterations(),
    timesteps: rows.width,
    norms: rows.norms(''),
    count: rows.count,
    ...rows.horizons(''),
  };
  const parts = rows.partNames;
  if (parts.length > 0) {
    flow.parts = Object.fromEntries(parts.map((p) => [p, rows.norms(p)]));
    flow.partHorizons = Object.fromEntries(parts.map((p): [string, HorizonRows] => [p, rows.horizons(p)]));
  }
  return flow;
}

/**
 * The histograms of the recorded iterations of one series (at most `maxRows`, evenly spaced), with
 * interpolated percentiles. Per channel part too (zero counts where a part is missing at some iteration).
 */
export function histogramSeries(c: ReadContext, key: SeriesKey, options: SeriesOptions): HistogramSeries {
  const rows = series(c, key, 'histogram', options);
  return histogramsOf(rows);
}

/** The histogram series of a series' rows (any backend's). */
export function histogramsOf(rows: SeriesRows): HistogramSeries {
  const { counts, minmax } = rows.histograms('');
  const n = minmax.length / 2;
  const B = HISTOGRAM_BUCKETS;
  const values = new Float64Array(n * PERCENTILES.length);
  for (let i = 0; i < n; i++) {
    histogramPercentiles(
      counts.subarray(i * B, (i + 1) * B),
      minmax[2 * i]!,
      minmax[2 * i + 1]!,
      PERCENTILES,
      values,
      i * PERCENTILES.length,
    );
  }
  const out: HistogramSeries = {
    ids: rows.ids(),
    iterations: rows.iterations(),
    edges: HISTOGRAM_EDGES,
    counts,
    percentiles: { p: PERCENTILES, values },
    count: rows.count,
  };
  const parts = rows.partNames;
  if (parts.length > 0) out.parts = Object.fromEntries(parts.map((p) => [p, rows.histograms(p).counts]));
  return out;
}

/**
 * The snapshot index of one series as typed-array columns (ids, iterations, loss, whole-tensor summaries,
 * horizon), at most `maxRows` rows evenly spaced: what a page needs to draw a series without its JSON rows.
 */
export function seriesIndex(c: ReadContext, key: SeriesKey, options: SeriesOptions): SeriesIndex {
  const rows = series(c, key, 'index', options);
  return indexOf(rows);
}

/** The series index of a series' rows (any backend's). */
export function indexOf(rows: SeriesRows): SeriesIndex {
  const { minmax } = rows.histograms('');
  const n = minmax.length / 2;
  const min = new Float64Array(n);
  const max = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    min[i] = minmax[2 * i]!;
    max[i] = minmax[2 * i + 1]!;
  }
  const stats = Object.fromEntries(CHUNK_STATS.map((f) => [f, rows.stat('', f)])) as Record<
    ChunkStat,
    Float64Array
  >;
  return {
    count: rows.count,
    ids: Float64Array.from(rows.ids()),
    iterations: Float64Array.from(rows.iterations()),
    ...stats,
    min,
    max,
  };
}
