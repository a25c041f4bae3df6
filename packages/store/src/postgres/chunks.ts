// Series chunks on PostgreSQL, as the file keeps them (../chunks.ts): per series, channel part and level,
// rows of SERIES_CHUNK_ROWS snapshots each, level L holding the positions p with p % LEVEL_STRIDE^L = 0. A
// flow, histogram or index query then reads the chunks of one level, not a row per snapshot: a series of
// 2,000 snapshots is 63 rows, one of 50,000 read at 500 rows is 25.
//
// A chunk here is three bytea each write appends to in SQL (so two servers appending to one series stay
// in position order: the series row's lock, taken by the snapshot's insert, is held to the COMMIT):
// `entries`, per snapshot CHUNK_FIELDS as big-endian float8s (float8send; NaN for NULL) then the byte
// length of its timestep norms; `norms`, the norms (float32) as written, unpadded; `hists`, the histograms.
import type pg from 'pg';
import { LEVEL_STRIDE, MAX_LEVEL, SERIES_CHUNK_ROWS } from '../chunks.js';
import { SUMMARY_STATS } from '../columns.js';

/** The numbers of one chunk entry, from the snapshot then its summary, before the norms' byte length. */
export const CHUNK_FIELDS = [
  'id',
  'iteration',
  'loss',
  'time',
  ...SUMMARY_STATS.map((m) => m.column),
] as const;
const FROM_SNAPSHOT = new Set(['id', 'iteration', 'loss', 'time']);

export const CHUNKS_DDL = `
  CREATE TABLE gradscope.series_chunks (
    series_key   bigint NOT NULL REFERENCES gradscope.series (key),
    channel_part text NOT NULL,
    level        smallint NOT NULL,
    seq          bigint NOT NULL,
    n            integer NOT NULL,
    entries      bytea NOT NULL,
    norms        bytea NOT NULL,
    hists        bytea NOT NULL,
    PRIMARY KEY (series_key, channel_part, level, seq)
  ) WITH (toast_tuple_target = 8160);
  -- Entries and norms kept in the row up to a page (toast_tuple_target), not out of line from 2 kB on: the
  -- flow of a 2,000-snapshot series copied out in 0.85 ms against 1.51 (medians of 60, the tests' cluster);
  -- the histograms, which only the histogram query reads, out of line.
  ALTER TABLE gradscope.series_chunks ALTER COLUMN entries SET STORAGE MAIN,
    ALTER COLUMN norms SET STORAGE MAIN, ALTER COLUMN hists SET STORAGE EXTERNAL;`;

/** LEVEL_STRIDE^level as bigint, in SQL. */
const stride = (level: string) => `(${LEVEL_STRIDE}::bigint ^ ${level})::bigint`;

/** The levels a snapshot at position `pos` belongs to: `FROM generate_series(…) l(level) WHERE …`. */
export const LEVELS_SQL = (pos: string) =>
  `generate_series(0, ${MAX_LEVEL}) AS l(level) WHERE ${pos} % ${stride('l.level')} = 0`;

/** The chunk a snapshot at `pos` goes to at level `level`. */
export const SEQ_SQL = (pos: string, level: string) => `(${pos} / ${stride(level)}) / ${SERIES_CHUNK_ROWS}`;

/** One chunk entry's bytes, from snapshot columns `s.` and summary columns `m.` (see the top). */
export function entrySql(s: string, m: string): string {
  return `${CHUNK_FIELDS.map((c) => `float8send(coalesce(${FROM_SNAPSHOT.has(c) ? s : m}.${c}::float8, 'NaN'))`).join(' || ')}
    || float8send(coalesce(octet_length(${m}.timestep_norms), 0)::float8)`;
}

/** What an append adds to a chunk that already exists. */
export const APPEND_SQL = `ON CONFLICT (series_key, channel_part, level, seq) DO UPDATE SET n = c.n + 1,
  entries = c.entries || excluded.entries, norms = c.norms || excluded.norms, hists = c.hists || excluded.hists`;

/**
 * Builds the chunks of every series of run `runKey` (of every run without one) from its snapshots and
 * summaries, after deleting those it had: the migration from schema 1, and compaction's renumbering.
 */
export async function rebuildChunks(c: pg.ClientBase, runKey?: number): Promise<void> {
  const only = runKey === undefined ? '' : 'WHERE s.run_key = $1';
  const args = runKey === undefined ? [] : [runKey];
  await c.query(
    `DELETE FROM gradscope.series_chunks x USING gradscope.series k WHERE x.series_key = k.key
     ${runKey === undefined ? '' : 'AND k.run_key = $1'}`,
    args,
  );
  await c.query(
    `INSERT INTO gradscope.series_chunks (series_key, channel_part, level, seq, n, entries, norms, hists)
     SELECT s.series_key, m.channel_part, l.level, ${SEQ_SQL('s.pos', 'l.level')}, count(*),
       string_agg(${entrySql('s', 'm')}, ''::bytea ORDER BY s.pos),
       string_agg(coalesce(m.timestep_norms, ''::bytea), ''::bytea ORDER BY s.pos),
       string_agg(m.histogram, ''::bytea ORDER BY s.pos)
     FROM (SELECT * FROM gradscope.snapshots s ${only}) s
       JOIN gradscope.summaries m ON m.snapshot_id = s.id, ${LEVELS_SQL('s.pos')}
     GROUP BY 1, 2, 3, 4`,
    args,
  );
}

/**
 * The level a query for `maxRows` rows reads, of a series of `count` snapshots: the sparsest still holding
 * maxRows of them (level L holds ceil(count / stride^L)), as the file's reader picks it.
 */
export function levelFor(count: number, maxRows: number | undefined): number {
  let level = 0;
  if (maxRows === undefined) return level;
  for (let l = 1, s = LEVEL_STRIDE; l <= MAX_LEVEL; l++, s *= LEVEL_STRIDE)
    if (Math.ceil(count / s) >= maxRows) level = l;
  return level;
}
