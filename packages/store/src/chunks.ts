// Appending rows to `series_chunks`: the rows of one commit group are gathered per (series, channel part,
// level) and each touched chunk is written once per group, not once per snapshot. The last chunk of each
// (series, part, level) and each series' position are kept in memory between groups (not read back).
//
// Levels keep long series cheap to downsample (as TensorBoard keeps a sample of each tag): level 0 holds every
// snapshot of a series; level L ≥ 1 also holds every LEVEL_STRIDE^L-th snapshot written (by its position in
// the series), so a query for 500 rows out of 50,000 reads the 25 chunks of level 2 (782 rows), not the 1,563
// of level 0. The levels add about 1/7 to the chunk rows' size.
// Channel parts follow the whole tensor's position, so a snapshot's parts are at the same levels as it is.
import type { Statement } from 'better-sqlite3';
import { CHUNK_STATS, type ChunkStat, statsOfRow } from './columns.js';
import { HISTOGRAM_BUCKETS } from './histogram.js';
import type { Db, SeriesChunkRow } from './schema.js';

/**
 * Snapshots per row of `series_chunks`. The per-series matrices (flow, histograms) are read from these
 * chunk rows, so a query over 10,000 snapshots reads ~300 rows instead of 10,000 small BLOBs.
 */
export const SERIES_CHUNK_ROWS = 32;
/** Level L keeps every LEVEL_STRIDE^L-th snapshot. */
export const LEVEL_STRIDE = 8;
/** Levels above 0: every 8th, 64th, 512th and 4,096th snapshot. */
export const MAX_LEVEL = 4;

/** The statistics of a summary that a chunk row keeps (CHUNK_STATS but the snapshot's loss and time). */
export type SummaryStats = Record<Exclude<ChunkStat, 'loss' | 'time'>, number | null>;

/** One row of a series chunk: what the flow, histogram and index queries read of one snapshot (part). */
export interface ChunkEntry {
  /** The channel part: '' for the whole tensor. */
  part: string;
  id: number;
  iteration: number;
  loss: number | null;
  time: number | null;
  /** Float32 per timestep; null without a timestep axis. */
  norms: Float32Array | null;
  histogram: Uint32Array;
  min: number;
  max: number;
  stats: SummaryStats;
}

/** A chunk's columns in COLUMNS order, typed, with room for SERIES_CHUNK_ROWS rows each. */
type Columns = [
  ids: Float64Array,
  iterations: Float64Array,
  norms: Float32Array,
  histograms: Uint32Array,
  minmax: Float64Array,
  stats: Float64Array,
];

interface OpenChunk {
  series: number;
  part: string;
  level: number;
  /** Unwritten rows since the last write. */
  dirty: boolean;
  rowid: number | undefined;
  chunk: number;
  count: number;
  width: number;
  /** Filled up to `count` rows (no allocation per row). */
  cols: Columns;
}

const COLUMNS = ['ids', 'iterations', 'timestep_norms', 'histograms', 'minmax', 'stats'] as const;

/** Elements of one row of each column, for timestep norms of `width`. */
function perRow(width: number): number[] {
  return [1, 1, width, HISTOGRAM_BUCKETS, 2, CHUNK_STATS.length];
}

/** Empty columns with room for a whole chunk, holding the stored bytes of `from`'s columns first when given. */
function columns(width: number, from?: readonly Uint8Array[]): Columns {
  const n = SERIES_CHUNK_ROWS;
  const cols: Columns = [
    new Float64Array(n),
    new Float64Array(n),
    new Float32Array(n * width),
    new Uint32Array(n * HISTOGRAM_BUCKETS),
    new Float64Array(n * 2),
    new Float64Array(n * CHUNK_STATS.length),
  ];
  if (from) for (let i = 0; i < cols.length; i++) new Uint8Array(cols[i]!.buffer).set(from[i]!);
  return cols;
}

/** The levels a snapshot at `position` (0-based, in its series) belongs to: 0, and each L with stride^L | position. */
export function levelsOf(position: number): number[] {
  const out = [0];
  let stride = LEVEL_STRIDE;
  for (let level = 1; level <= MAX_LEVEL && position % stride === 0; level++, stride *= LEVEL_STRIDE)
    out.push(level);
  return out;
}

export class ChunkAppender {
  private readonly open = new Map<string, OpenChunk>();
  /** Snapshots in each series so far (its whole tensor's level-0 rows). */
  private readonly positions = new Map<number, number>();
  private readonly stmt: { last: Statement; total: Statement; insert: Statement; update: Statement };

  constructor(db: Db) {
    this.stmt = {
      last: db.prepare(`
        SELECT rowid, chunk, count, width, ids, iterations, timestep_norms, histograms, minmax, stats
        FROM series_chunks WHERE series_key = ? AND channel_part = ? AND level = ? ORDER BY chunk DESC LIMIT 1`),
      total: db
        .prepare(
          "SELECT coalesce(sum(count), 0) FROM series_chunks WHERE series_key = ? AND channel_part = '' AND level = 0",
        )
        .pluck(),
      insert: db.prepare(`
        INSERT INTO series_chunks (series_key, channel_part, level, chunk, count, width, ids, iterations,
          timestep_norms, histograms, minmax, stats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      update: db.prepare(`
        UPDATE series_chunks SET count = ?, width = ?, ids = ?, iterations = ?, timestep_norms = ?, histograms = ?,
          minmax = ?, stats = ? WHERE rowid = ?`),
    };
  }

  /**
   * Appends one snapshot to its series: `entries` holds the whole tensor's row (part '') first, then one per
   * channel part.
   */
  appendSnapshot(series: number, entries: readonly ChunkEntry[]): void {
    let position = this.positions.get(series);
    if (position === undefined) position = this.stmt.total.get(series) as number;
    this.positions.set(series, position + 1);
    for (const level of levelsOf(position)) for (const e of entries) this.append(series, level, e);
  }

  /** Adds one row to the last chunk of (series, part, level), starting a new one when full or of another width. */
  private append(series: number, level: number, e: ChunkEntry): void {
    const k = `${series}\u0000${e.part}\u0000${level}`;
    let c = this.open.get(k);
    if (!c) {
      const last = this.stmt.last.get(series, e.part, level) as SeriesChunkRow | undefined;
      c = {
        series,
        part: e.part,
        level,
        dirty: false,
        rowid: last?.rowid,
        chunk: last?.chunk ?? -1,
        count: last?.count ?? SERIES_CHUNK_ROWS,
        width: last?.width ?? 0,
        cols: columns(
          last && last.count < SERIES_CHUNK_ROWS ? last.width : 0,
          last && last.count < SERIES_CHUNK_ROWS ? COLUMNS.map((n) => last[n]) : undefined,
        ),
      };
      this.open.set(k, c);
    }
    const width = e.norms?.length ?? 0;
    if (c.count >= SERIES_CHUNK_ROWS || c.width !== width) {
      this.write(c);
      Object.assign(c, { rowid: undefined, chunk: c.chunk + 1, count: 0, width, cols: columns(width) });
    }
    const r = c.count;
    const cols = c.cols;
    cols[0][r] = e.id;
    cols[1][r] = e.iteration;
    if (e.norms) cols[2].set(e.norms, r * width);
    cols[3].set(e.histogram, r * HISTOGRAM_BUCKETS);
    cols[4][2 * r] = e.min;
    cols[4][2 * r + 1] = e.max;
    statsRow(e.stats, e.loss, e.time, cols[5], r * CHUNK_STATS.length);
    c.count++;
    c.dirty = true;
  }

  private write(c: OpenChunk): void {
    if (!c.dirty || c.count === 0) return;
    // better-sqlite3 binds a typed array as a BLOB of its bytes.
    const sizes = perRow(c.width);
    const cols = c.cols.map((col, i) => col.subarray(0, c.count * sizes[i]!));
    if (c.rowid === undefined) {
      const { lastInsertRowid } = this.stmt.insert.run(
        c.series,
        c.part,
        c.level,
        c.chunk,
        c.count,
        c.width,
        ...cols,
      );
      c.rowid = Number(lastInsertRowid);
    } else {
      this.stmt.update.run(c.count, c.width, ...cols, c.rowid);
    }
    c.dirty = false;
  }

  /**
   * Writes every chunk touched since the last flush. Call inside the group's transaction. The open chunks
   * stay in memory, so that the next group appends to them without reading them back (call reset() when
   * the table may have changed under this appender: another connection wrote, a run was deleted).
   */
  flush(): void {
    for (const c of this.open.values()) this.write(c);
  }

  /** Forgets unwritten rows (their transaction rolled back) and every cached chunk. */
  discard(): void {
    this.reset();
  }

  /** Forgets the cached chunks and positions: they are read from the table again when next needed. */
  reset(): void {
    this.open.clear();
    this.positions.clear();
  }
}

/** Writes the stats row of one summary (CHUNK_STATS in order, NaN for null) into `out` at `at`. */
function statsRow(
  stats: SummaryStats,
  loss: number | null,
  time: number | null,
  out: Float64Array,
  at: number,
): void {
  for (let i = 0; i < CHUNK_STATS.length; i++) {
    const f = CHUNK_STATS[i]!;
    out[at + i] = (f === 'loss' ? loss : f === 'time' ? time : stats[f]) ?? Number.NaN;
  }
}

/**
 * Rewrites the series chunks (every level) of one run, or of every run, from the summaries and snapshots
 * tables, in (iteration, id) order: after a compaction, and when migrating a file. Call inside a transaction.
 * Series left without snapshots are removed.
 */
export function rebuildSeriesChunks(db: Db, runKey?: number): void {
  const where = runKey === undefined ? '' : 'WHERE k.run_key = ?';
  const args = runKey === undefined ? [] : [runKey];
  db.prepare(`DELETE FROM series_chunks WHERE series_key IN (SELECT k.key FROM series k ${where})`).run(
    ...args,
  );
  const seriesKeys = db
    .prepare(`SELECT k.key FROM series k ${where} ORDER BY k.key`)
    .pluck()
    .all(...args) as number[];
  const select = db.prepare(`
    SELECT k.key AS series, s.id, s.iteration, s.loss, s.time, m.*
    FROM series k JOIN snapshots s ON s.run_key = k.run_key AND s.layer = k.layer AND s.kind = k.kind
      AND s.part = k.part
    JOIN summaries m ON m.snapshot_id = s.id
    WHERE k.key = ? ORDER BY s.iteration, s.id, m.channel_part = '' DESC, m.rowid`);
  // One series at a time (.all(), not .iterate(): the appender writes on this connection meanwhile).
  const rows = (function* () {
    for (const key of seriesKeys) yield* select.all(key);
  })() as Iterable<
    Record<string, unknown> & { series: number; id: number; iteration: number; channel_part: string }
  >;
  const copy = (b: Buffer) => new Uint8Array(b).buffer;
  const appender = new ChunkAppender(db);
  let pending: ChunkEntry[] = [];
  let pendingOf: { series: number; id: number } | undefined;
  const emit = () => {
    if (pendingOf) appender.appendSnapshot(pendingOf.series, pending);
    pending = [];
  };
  for (const r of rows) {
    if (!pendingOf || pendingOf.id !== r.id || pendingOf.series !== r.series) {
      emit();
      pendingOf = { series: r.series, id: r.id };
    }
    const n = (k: string) => r[k] as number | null;
    const norms = r.timestep_norms as Buffer | null;
    const stats = statsOfRow(r, 'summaries');
    pending.push({
      part: r.channel_part,
      id: r.id,
      iteration: r.iteration,
      loss: n('loss'),
      time: n('time'),
      norms: norms ? new Float32Array(copy(norms)) : null,
      histogram: new Uint32Array(copy(r.histogram as Buffer)),
      min: stats.min,
      max: stats.max,
      stats,
    });
  }
  emit();
  appender.flush();
  db.prepare(
    `DELETE FROM series WHERE key IN (SELECT k.key FROM series k ${where}) AND key NOT IN (SELECT series_key FROM series_chunks)`,
  ).run(...args);
}
