// The SQLite schema of a gradscope file as this version writes it, whole: its tables, the row types the
// queries read. Files of earlier versions are brought here by migrations.ts.
import type { Kind } from '@gradscope/format';
import type Database from 'better-sqlite3';
import { type SnapshotStatColumns, type SummaryStatColumns, statColumnsSql } from './columns.js';
import { HISTOGRAM_BUCKETS, HISTOGRAM_MAX_EXP, HISTOGRAM_MIN_EXP } from './histogram.js';

export type Db = Database.Database;

/** `PRAGMA application_id` of a gradscope database: the bytes 'GrSc'. */
export const APPLICATION_ID = 0x47725363;
/**
 * `PRAGMA user_version`: the schema version this code writes.
 * 1: runs, snapshots, payloads, summaries, series, series_chunks.
 * 2: memory horizon columns, per-row stats of series chunks, scalars, writer liveness of runs.
 * 3: the group and params of runs.
 * 4: an index of series chunks' row counts (seriesChunkCountsSql).
 */
export const SCHEMA_VERSION = 4;
/** The oldest version a reader opens as it is (version 4 only adds an index, which a writer builds). */
export const READABLE_FROM = 3;

/** A row of `runs` with what the reader derives from its snapshots beside it (see Reader.runRows). */
export interface RunRow {
  key: number;
  id: string;
  name: string;
  started_at: number;
  ended_at: number | null;
  status: 'running' | 'finished' | 'failed';
  model: string;
  options: string;
  backend: string;
  tfjs_version: string;
  host: string;
  meta: string;
  /** RunInfo.group (NULL when none). */
  run_group: string | null;
  /** RunInfo.params, a JSON object. */
  params: string;
  /** 'host pid start' of the last writer process that wrote the run (see liveness.ts). */
  writer: string | null;
  /** ms since the epoch: the last heartbeat of that writer. */
  heartbeat_at: number | null;
  /** 1 when the run was created by a snapshot, without startRun. */
  implicit: number;
  snapshots: number;
  last_iteration: number | null;
  /** ms since the epoch: the time of the newest snapshot (by iteration, then id) of any of its series. */
  last_time: number | null;
  /** Layers, then kinds, in the order their series first appear. */
  layers: string[];
  kinds: Kind[];
}

/** A row of `snapshots` joined with its run's id. */
export interface SnapshotRow extends SnapshotStatColumns {
  id: number;
  run: string;
  iteration: number;
  epoch: number;
  batch: number;
  layer: string;
  layer_class: string;
  kind: string;
  part: string;
  channel_parts: string | null;
  shape: string;
  dims: string;
  loss: number | null;
  time: number;
  non_finite: number;
  payload_bytes: number;
}

/** A row of `summaries`: the write-time summary of one snapshot or one channel part of it. */
export interface SummaryRow extends SummaryStatColumns {
  snapshot_id: number;
  channel_part: string;
  timestep_norms: Buffer | null;
  channel_norms: Buffer | null;
  histogram: Buffer;
}

/**
 * A row of `series_chunks`: the flow norms, histograms and per-row statistics of up to SERIES_CHUNK_ROWS
 * snapshots of one series, in the order they were written. Every BLOB is little-endian, one entry per row:
 * ids, iterations: float64; timestep_norms: float32 × width; histograms: uint32 × HISTOGRAM_BUCKETS;
 * minmax: float64 × 2; stats: float64 × STAT_FIELDS.length.
 */
export interface SeriesChunkRow {
  rowid: number;
  series_key: number;
  channel_part: string;
  /** 0: every snapshot; L: every LEVEL_STRIDE^L-th (see chunks.ts). */
  level: number;
  chunk: number;
  count: number;
  width: number;
  ids: Buffer;
  iterations: Buffer;
  timestep_norms: Buffer;
  histograms: Buffer;
  minmax: Buffer;
  stats: Buffer;
}

/** A row of `scalars`: one training scalar at one iteration. */
export interface ScalarRow {
  run_key: number;
  iteration: number;
  name: string;
  /** NULL for NaN (SQLite has no NaN). */
  value: number | null;
  time: number;
}

/** The scalars table and its index (also created by the version-2 migration). */
export const scalarsSql = `
    CREATE TABLE scalars (
      run_key   INTEGER NOT NULL REFERENCES runs (key),
      iteration INTEGER NOT NULL,
      name      TEXT NOT NULL,
      value     REAL,
      time      REAL NOT NULL
    );
    CREATE INDEX scalars_series ON scalars (run_key, name, iteration, value)`;

/** The series_chunks table (also created by the version-2 migration). */
export const seriesChunksSql = `
    CREATE TABLE series_chunks (
      series_key     INTEGER NOT NULL REFERENCES series (key),
      channel_part   TEXT NOT NULL,
      level          INTEGER NOT NULL,
      chunk          INTEGER NOT NULL,
      count          INTEGER NOT NULL,
      width          INTEGER NOT NULL,
      ids            BLOB NOT NULL,
      iterations     BLOB NOT NULL,
      minmax         BLOB NOT NULL,
      stats          BLOB NOT NULL,
      timestep_norms BLOB NOT NULL,
      histograms     BLOB NOT NULL,
      UNIQUE (series_key, channel_part, level, chunk)
    )`;

/**
 * The row counts of series chunks by level, in an index of their own: a series query sums a level's counts
 * (to pick the level) from this index alone, not from the first page of every chunk row, which a server's
 * page cache (16 MB) cannot hold for long series (a 50,000-snapshot flow took 11.6 ms through the server,
 * measured, most of it that sum).
 */
export const seriesChunkCountsSql =
  'CREATE INDEX series_chunk_counts ON series_chunks (series_key, channel_part, level, count)';

/**
 * Creates the current schema in an empty database. Series chunks keep their small columns first: SQLite
 * reads a record's overflow pages only up to the last column a query asks for, so the index query never
 * touches the norms and a flow query never the histograms.
 */
export function createSchema(db: Db): void {
  db.exec(`
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    CREATE TABLE runs (
      key          INTEGER PRIMARY KEY,
      id           TEXT NOT NULL UNIQUE,
      name         TEXT NOT NULL,
      started_at   REAL NOT NULL,
      ended_at     REAL,
      status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
      model        TEXT NOT NULL,
      options      TEXT NOT NULL,
      backend      TEXT NOT NULL,
      tfjs_version TEXT NOT NULL,
      host         TEXT NOT NULL,
      meta         TEXT NOT NULL DEFAULT '{}',
      writer       TEXT,
      heartbeat_at REAL,
      implicit     INTEGER NOT NULL DEFAULT 0,
      run_group    TEXT,
      params       TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_name ON runs (name, started_at);
    CREATE INDEX runs_group ON runs (run_group);
    CREATE TABLE snapshots (
      id            INTEGER PRIMARY KEY,
      run_key       INTEGER NOT NULL REFERENCES runs (key),
      iteration     INTEGER NOT NULL,
      epoch         INTEGER NOT NULL,
      batch         INTEGER NOT NULL,
      layer         TEXT NOT NULL,
      layer_class   TEXT NOT NULL,
      kind          TEXT NOT NULL,
      part          TEXT NOT NULL DEFAULT '',
      channel_parts TEXT,
      shape         TEXT NOT NULL,
      dims          TEXT NOT NULL,
      loss          REAL,
      time          REAL NOT NULL,
      non_finite    INTEGER NOT NULL,
      payload_bytes INTEGER NOT NULL,
      ${statColumnsSql('snapshots')}
    );
    CREATE INDEX snapshots_flow ON snapshots (run_key, layer, kind, part, iteration);
    CREATE TABLE payloads (
      snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots (id),
      ipc         BLOB NOT NULL
    );
    CREATE TABLE summaries (
      snapshot_id    INTEGER NOT NULL REFERENCES snapshots (id),
      channel_part   TEXT NOT NULL,
      ${statColumnsSql('summaries')},
      timestep_norms BLOB,
      channel_norms  BLOB,
      histogram      BLOB NOT NULL,
      PRIMARY KEY (snapshot_id, channel_part)
    );
    CREATE TABLE series (
      key     INTEGER PRIMARY KEY,
      run_key INTEGER NOT NULL REFERENCES runs (key),
      layer   TEXT NOT NULL,
      kind    TEXT NOT NULL,
      part    TEXT NOT NULL,
      UNIQUE (run_key, layer, kind, part)
    );
    ${seriesChunksSql};
    ${seriesChunkCountsSql};
    ${scalarsSql};
  `);
  const put = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  for (const [key, value] of STORE_META) put.run(key, value);
}

/** The meta rows of a new store (both backends'): what the bytes of its columns mean. */
export const STORE_META: [string, string][] = [
  [
    'histogram',
    JSON.stringify({
      scheme: 'symmetric-log2',
      buckets: HISTOGRAM_BUCKETS,
      minExp: HISTOGRAM_MIN_EXP,
      maxExp: HISTOGRAM_MAX_EXP,
      encoding: 'uint32le',
    }),
  ],
  ['tensor_encoding', 'arrow-ipc-stream; arrow.fixed_shape_tensor<float32>'],
  ['norms_encoding', 'float32le'],
];
