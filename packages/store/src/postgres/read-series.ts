// One series of a run on PostgreSQL (flow matrix, histograms, index): the series chunks of one level
// (chunks.ts), as the file's reader reads its own, each handed to the SQLite reader's SeriesRows as a
// ChunkRow (read/rows.ts). Two round trips: the series and its size, then its chunks through binary COPY.
import type { FlowMatrix, HistogramSeries, SeriesIndex } from '@gradscope/format';
import { SERIES_CHUNK_ROWS } from '../chunks.js';
import { CHUNK_STATS, SUMMARY_STATS } from '../columns.js';
import { NotFoundError } from '../errors.js';
import type { SeriesKey, SeriesOptions } from '../provider.js';
import { type ChunkRow, SeriesRows } from '../read/rows.js';
import { flowOf, histogramsOf, indexOf, noSeries } from '../read/series.js';
import { CHUNK_FIELDS, levelFor } from './chunks.js';
import { copyRows, intField } from './copy.js';
import { type PgReadContext, RUN_KEY } from './read-context.js';

const EMPTY = Buffer.alloc(0);

const COLUMN_OF = Object.fromEntries(SUMMARY_STATS.map((m) => [m.field, m.column])) as Record<string, string>;
/** Float8s per chunk entry: CHUNK_FIELDS and the norms' byte length. */
const K = CHUNK_FIELDS.length + 1;
/** Where an entry holds a field. */
const AT = Object.fromEntries(CHUNK_FIELDS.map((f, k) => [f, k])) as Record<
  (typeof CHUNK_FIELDS)[number],
  number
>;
/** Where an entry holds each of CHUNK_STATS (the snapshot's loss and time, the summary's statistics). */
const STAT_AT = CHUNK_STATS.map(
  (f) => AT[(f === 'loss' || f === 'time' ? f : COLUMN_OF[f]) as keyof typeof AT],
);

/** One row of gradscope.series_chunks as the read selects it (a column not selected is empty). */
interface PgChunk {
  channel_part: string;
  level: number;
  n: number;
  entries: Buffer;
  norms: Buffer;
  hists: Buffer;
}

/**
 * One chunk as read/rows.ts's ChunkRow (what the file's series_chunks hold): timestep norms padded with NaN
 * to the chunk's widest row, the per-row statistics in CHUNK_STATS order, NaN for null.
 */
function chunkRow(r: PgChunk): ChunkRow {
  const n = r.n;
  // Entry after entry, CHUNK_FIELDS then the norms' byte length, each a big-endian float8 (float8send):
  // copied to aligned memory and byte-swapped in place, then spread into the columns in one pass.
  const e = new Float64Array(n * K);
  const bytes = Buffer.from(e.buffer);
  r.entries.copy(bytes);
  bytes.swap64();
  const F = CHUNK_STATS.length;
  const ids = new Float64Array(n);
  const iterations = new Float64Array(n);
  const minmax = new Float64Array(2 * n);
  const stats = new Float64Array(n * F);
  let width = 0;
  let even = true;
  for (let i = 0; i < n; i++) {
    const at = i * K;
    ids[i] = e[at + AT.id]!;
    iterations[i] = e[at + AT.iteration]!;
    minmax[2 * i] = e[at + AT.min]!;
    minmax[2 * i + 1] = e[at + AT.max]!;
    for (let j = 0; j < F; j++) stats[i * F + j] = e[at + STAT_AT[j]!]!;
    const w = e[at + K - 1]! / 4;
    if (i > 0 && w !== width) even = false;
    width = Math.max(width, w);
  }
  let norms = EMPTY;
  if (width > 0 && r.norms.length > 0) {
    const all = new Float32Array(n * width);
    if (even) new Uint8Array(all.buffer).set(r.norms);
    else {
      // Rows of other widths padded with NaN to the widest.
      all.fill(Number.NaN);
      const to = new Uint8Array(all.buffer);
      for (let i = 0, at = 0; i < n; i++) {
        const len = e[i * K + K - 1]!;
        to.set(r.norms.subarray(at, at + len), i * width * 4);
        at += len;
      }
    }
    norms = Buffer.from(all.buffer);
  }
  const buf = (a: Float64Array) => Buffer.from(a.buffer);
  return {
    channel_part: r.channel_part,
    level: r.level,
    count: n,
    width,
    ids: buf(ids),
    iterations: buf(iterations),
    timestep_norms: norms,
    histograms: r.hists,
    minmax: buf(minmax),
    stats: buf(stats),
  };
}

/**
 * The rows of one series as SeriesRows: with `maxRows`, the chunks of the sparsest level still holding
 * maxRows snapshots (levelFor) and the last chunk of level 0 (for the newest snapshot), else those of level 0.
 */
async function series(
  c: PgReadContext,
  key: SeriesKey,
  what: string,
  columns: { norms?: boolean; histograms?: boolean },
  options: SeriesOptions,
): Promise<SeriesRows> {
  return c.q(`reading a ${what} series`, async (p) => {
    const { rows: found } = await p.query({
      name: 'gs_series',
      text: `WITH r AS (${RUN_KEY}) SELECT x.key AS series, x.count FROM r LEFT JOIN gradscope.series x
        ON x.run_key = r.key AND x.layer = $2 AND x.kind = $3 AND x.part = $4`,
      values: [key.run, key.layer, key.kind, key.part ?? ''],
    });
    const head = found[0] as { series: number | null; count: number | null } | undefined;
    if (!head) throw NotFoundError.run(key.run, c.path);
    if (head.series === null || !head.count) throw noSeries(c.path, key, what, '');
    const level = levelFor(head.count, options.maxRows);
    const last = Math.floor((head.count - 1) / SERIES_CHUNK_ROWS);
    // Numbers only, read from the database above (COPY takes no parameters).
    const chunks = await copyRows(
      p,
      `SELECT channel_part, level, n, entries, ${columns.norms ? 'norms' : "''::bytea"},
         ${columns.histograms ? 'hists' : "''::bytea"} FROM gradscope.series_chunks
       WHERE series_key = ${Number(head.series)} AND (level = ${level} OR (level = 0 AND seq = ${last}))
       ORDER BY channel_part COLLATE "C", level DESC, seq`,
    );
    // The chunks of one part and level in a row are one ChunkRow (fewer, larger arrays to make and walk).
    const runs: PgChunk[] = [];
    let group: { chunk: PgChunk; parts: Buffer[][] } | undefined;
    const close = () => {
      if (!group) return;
      const [entries, norms, hists] = group.parts.map((b) => (b.length === 1 ? b[0]! : Buffer.concat(b)));
      runs.push({ ...group.chunk, entries: entries!, norms: norms!, hists: hists! });
    };
    for (const [part, lv, n, entries, norms, hists] of chunks) {
      const chunk = { channel_part: part!.toString('utf8'), level: intField(lv), n: intField(n) };
      if (group?.chunk.channel_part === chunk.channel_part && group.chunk.level === chunk.level) {
        group.chunk.n += chunk.n;
        group.parts[0]!.push(entries!);
        group.parts[1]!.push(norms!);
        group.parts[2]!.push(hists!);
      } else {
        close();
        group = {
          chunk: { ...chunk, entries: EMPTY, norms: EMPTY, hists: EMPTY },
          parts: [[entries!], [norms!], [hists!]],
        };
      }
    }
    close();
    const rows = runs.map(chunkRow);
    return new SeriesRows(rows, options, level, head.count);
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
