// One series of a run on PostgreSQL (flow matrix, histograms, index): the rows a query with maxRows needs,
// picked in the query at the positions the SQLite provider's chunk level holds, handed to the SQLite
// reader's SeriesRows as one chunk per channel part (read/rows.ts's ChunkRow).
import type { FlowMatrix, HistogramSeries, SeriesIndex } from '@gradscope/format';
import { LEVEL_STRIDE, MAX_LEVEL } from '../chunks.js';
import { CHUNK_STATS, SUMMARY_STATS } from '../columns.js';
import { NotFoundError } from '../errors.js';
import type { SeriesKey, SeriesOptions } from '../provider.js';
import { type ChunkRow, SeriesRows } from '../read/rows.js';
import { flowOf, histogramsOf, indexOf, noSeries } from '../read/series.js';
import { type PgReadContext, RUN_KEY } from './read-context.js';

const EMPTY = Buffer.alloc(0);

/** The numbers of a series' snapshots gathered per channel part (float8s, NaN for null, in id order). */
const PART_ARRAYS = ['id', 'iteration', 'loss', 'time', ...SUMMARY_STATS.map((m) => m.column)] as const;
const COLUMN_OF = Object.fromEntries(SUMMARY_STATS.map((m) => [m.field, m.column])) as Record<string, string>;

/**
 * One channel part's rows as one chunk (read/rows.ts's ChunkRow, as the file's series_chunks hold them):
 * timestep norms padded with NaN to the widest row, the per-row statistics in CHUNK_STATS order, NaN for null.
 */
function partChunk(r: Record<string, unknown>, level: number): ChunkRow {
  const n = Number(r.n ?? 0);
  if (n === 0) {
    const none = { ids: EMPTY, iterations: EMPTY, timestep_norms: EMPTY, histograms: EMPTY, minmax: EMPTY };
    return { channel_part: r.channel_part as string, level, count: 0, width: 0, ...none, stats: EMPTY };
  }
  // Row after row, PART_ARRAYS then the norms' byte length, each a big-endian float8 (float8send).
  const rows = r.rows as Buffer;
  const K = PART_ARRAYS.length + 1;
  const col = (c: string) => {
    const k = PART_ARRAYS.indexOf(c as (typeof PART_ARRAYS)[number]);
    return Float64Array.from({ length: n }, (_, i) => rows.readDoubleBE(8 * (i * K + k)));
  };
  const widths = Array.from({ length: n }, (_, i) => rows.readDoubleBE(8 * (i * K + K - 1)) / 4);
  const width = Math.max(0, ...widths);
  let norms = EMPTY;
  if (width > 0 && r.norms) {
    const all = new Float32Array(n * width).fill(Number.NaN);
    const src = r.norms as Buffer;
    let at = 0;
    widths.forEach((w, i) => {
      if (w === 0) return;
      const row = new Float32Array(new Uint8Array(src.subarray(at, at + w * 4)).buffer);
      all.set(row, i * width);
      at += w * 4;
    });
    norms = Buffer.from(all.buffer);
  }
  const f64 = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const min = col('min');
  const max = col('max');
  const minmax = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    minmax[2 * i] = min[i]!;
    minmax[2 * i + 1] = max[i]!;
  }
  const F = CHUNK_STATS.length;
  const stats = new Float64Array(n * F);
  CHUNK_STATS.forEach((f, j) => {
    const values = col(f === 'loss' || f === 'time' ? f : COLUMN_OF[f]!);
    for (let i = 0; i < n; i++) stats[i * F + j] = values[i]!;
  });
  return {
    channel_part: r.channel_part as string,
    level,
    count: n,
    width,
    ids: f64(col('id')),
    iterations: f64(col('iteration')),
    timestep_norms: norms,
    histograms: (r.hists as Buffer | null | undefined) ?? EMPTY,
    minmax: f64(minmax),
    stats: Buffer.from(stats.buffer),
  };
}

/**
 * The rows of one series as SeriesRows: with `maxRows`, the snapshots at the positions the SQLite
 * provider's chunk level holds (see levelFor) and the newest one, else all of them; each part's rows too.
 */
async function series(
  c: PgReadContext,
  key: SeriesKey,
  what: string,
  columns: { norms?: boolean; histograms?: boolean },
  options: SeriesOptions,
): Promise<SeriesRows> {
  return c.q(`reading a ${what} series`, async (p) => {
    // One round trip: the run, the series, the level of the SQLite provider's series chunks a query with
    // maxRows reads (chunks.ts: the sparsest level L <= MAX_LEVEL still holding maxRows snapshots, level L
    // holding the positions p with p % LEVEL_STRIDE^L = 0, ceil(n / stride^L) of n) and the rows there. No row: no run; a row without a series key: no series (or an empty one).
    // Per channel part one row: its snapshots' numbers as one bytea of big-endian float8s (PART_ARRAYS and
    // the norms' bytes, row after row), the norms and the histograms concatenated: one chunk for SeriesRows,
    // not an object, a Buffer and a hex string per snapshot, and one sort per column set.
    const { rows: found } = await p.query({
      name: `gs_series_${columns.norms ? 'n' : ''}${columns.histograms ? 'h' : ''}`,
      text: `WITH r AS (${RUN_KEY}),
        k AS (SELECT r.key AS run_key, x.key, x.count FROM r LEFT JOIN gradscope.series x
          ON x.run_key = r.key AND x.layer = $2 AND x.kind = $3 AND x.part = $4),
        l AS (SELECT k.*, (SELECT coalesce(max(v), 0) FROM generate_series(1, ${MAX_LEVEL}) v
          WHERE $5::bigint IS NOT NULL AND (k.count + (${LEVEL_STRIDE}::bigint ^ v)::bigint - 1)
            / (${LEVEL_STRIDE}::bigint ^ v)::bigint >= $5::bigint) AS level FROM k),
        w AS (SELECT s.id, s.iteration, s.loss, s.time, row_number() OVER (ORDER BY s.iteration, s.id) - 1 AS rk
          FROM l JOIN gradscope.snapshots s ON s.series_key = l.key
            AND (l.level = 0 OR s.pos % (${LEVEL_STRIDE}::bigint ^ l.level)::bigint = 0 OR s.pos = l.count - 1)),
        nn AS (SELECT count(*) AS n FROM w),
        -- The rows evenRows (read/rows.ts) keeps of n, by rank in (iteration, id) order: round(i (n-1) / (m-1)),
        -- halves up, for i < m; the last alone for m <= 1. Only these are read.
        picks AS (SELECT DISTINCT CASE WHEN $5::bigint <= 1 THEN nn.n - 1
            ELSE (2 * i * (nn.n - 1) + ($5::bigint - 1)) / (2 * ($5::bigint - 1)) END AS rk
          FROM nn, generate_series(0, greatest(coalesce($5::bigint, 1), 1) - 1) i
          WHERE $5::bigint IS NOT NULL AND nn.n > $5::bigint),
        -- The picked rows' summaries by one index probe each (OFFSET 0 keeps the probe: a join of the CTE,
        -- whose size the planner cannot know, became a hash join over every summary of the store).
        x AS (SELECT m.*, w.id, w.iteration, w.loss, w.time
          FROM w CROSS JOIN LATERAL (SELECT * FROM gradscope.summaries m WHERE m.snapshot_id = w.id OFFSET 0) m
          WHERE NOT EXISTS (SELECT 1 FROM picks) OR w.rk IN (SELECT rk FROM picks))
        -- Every part of the level's rows, also one no picked row has (its rows then all NaN, as the file's).
        SELECT l.run_key, l.key AS series, l.count AS total, l.level, pa.channel_part, p.n, p.rows
          ${columns.norms ? ', p.norms' : ''}${columns.histograms ? ', p.hists' : ''}
        FROM l LEFT JOIN (SELECT DISTINCT m.channel_part FROM w
          JOIN gradscope.summaries m ON m.snapshot_id = w.id) pa ON true
        LEFT JOIN (
          SELECT channel_part, count(*) AS n,
            string_agg(${PART_ARRAYS.map((c) => `float8send(coalesce(${c}::float8, 'NaN'))`).join(' || ')}
              || float8send(coalesce(octet_length(timestep_norms), 0)::float8), ''::bytea ORDER BY id) AS rows
            ${columns.norms ? ", string_agg(timestep_norms, ''::bytea ORDER BY id) AS norms" : ''}
            ${columns.histograms ? ", string_agg(histogram, ''::bytea ORDER BY id) AS hists" : ''}
          FROM x GROUP BY channel_part) p ON p.channel_part = pa.channel_part
        ORDER BY pa.channel_part COLLATE "C"`,
      values: [key.run, key.layer, key.kind, key.part ?? '', options.maxRows ?? null],
    });
    const head = found[0] as { series: number | null; total: number | null; level: number } | undefined;
    if (!head) throw NotFoundError.run(key.run, c.path);
    if (head.series === null || !head.total) throw noSeries(c.path, key, what, '');
    const level = Number(head.level);
    const chunks = found.filter((r) => r.channel_part !== null).map((r) => partChunk(r, level));
    return new SeriesRows(chunks, options, level, head.total);
  });
}

export async function flowMatrix(
  c: PgReadContext,
  key: SeriesKey,
  options: SeriesOptions = {},
): Promise<FlowMatrix> {
  const rows = await series(c, key, 'flow', { norms: true }, options);
  if (rows.width === 0) throw noSeries(c.path, key, 'flow', ": its tensors have no 'timestep' axis");
  return flowOf(rows);
}

export async function histogramSeries(
  c: PgReadContext,
  key: SeriesKey,
  options: SeriesOptions = {},
): Promise<HistogramSeries> {
  return histogramsOf(await series(c, key, 'histogram', { histograms: true }, options));
}

export async function seriesIndex(
  c: PgReadContext,
  key: SeriesKey,
  options: SeriesOptions = {},
): Promise<SeriesIndex> {
  return indexOf(await series(c, key, 'index', {}, options));
}
