// The tables of a gradscope store on PostgreSQL, in a schema of their own (`gradscope`), versioned in
// gradscope.meta and created or migrated by the first writer that connects (under an advisory lock, so
// that several servers starting together create them once).
//
// A series is the snapshots of one (run, layer, kind, part), each numbered by its position in the series
// (`pos`, 0, 1, …, in write order), and its chunks (chunks.ts): the levels the SQLite file keeps, which the
// flow, histogram and index queries read.
import type pg from 'pg';
import { SUMMARY_STATS } from '../columns.js';
import { StoreError } from '../errors.js';
import { STORE_META } from '../schema.js';
import { CHUNKS_DDL, rebuildChunks } from './chunks.js';
import { fromPg, shownUrl } from './connection.js';

/**
 * The schema version this code writes (gradscope.meta 'schema_version').
 * 1: runs, series, snapshots, payloads, summaries, scalars, commits, state.
 * 2: series_chunks (chunks.ts), built from the snapshots and summaries by the migration; commits by age
 *    (pruned by the writers); no index of snapshots by position (no query reads them so).
 */
export const PG_SCHEMA_VERSION = 2;

/** What version 2 adds to version 1's tables. */
const V2_DDL = `${CHUNKS_DDL}
  CREATE INDEX commits_at ON gradscope.commits (at);`;

/** The advisory lock key under which the schema is created or migrated ('GrSc'). */
const SCHEMA_LOCK = 0x47725363;

/** `l2 double precision, …`: the summary statistics in PostgreSQL types, for `snapshots` or `summaries`. */
export function pgStatColumnsSql(table: 'summaries' | 'snapshots'): string {
  return SUMMARY_STATS.map((s) => {
    const name = table === 'snapshots' && 'snapshotColumn' in s ? s.snapshotColumn : s.column;
    return `${name} ${s.sql.replace('REAL', 'double precision').replace('INTEGER', 'bigint')}`;
  }).join(',\n      ');
}

function createSql(): string {
  return `
    CREATE SCHEMA IF NOT EXISTS gradscope;
    CREATE TABLE gradscope.meta (
      key   text PRIMARY KEY,
      value text NOT NULL
    );
    -- One row: a number every write transaction raises (dataVersion), which also orders the commits.
    CREATE TABLE gradscope.state (
      one     boolean PRIMARY KEY DEFAULT true CHECK (one),
      version bigint NOT NULL
    );
    INSERT INTO gradscope.state (version) VALUES (0);
    CREATE TABLE gradscope.runs (
      key          bigserial PRIMARY KEY,
      id           text NOT NULL UNIQUE,
      name         text NOT NULL,
      started_at   double precision NOT NULL,
      ended_at     double precision,
      status       text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
      model        text NOT NULL,
      options      text NOT NULL,
      backend      text NOT NULL,
      tfjs_version text NOT NULL,
      host         text NOT NULL,
      meta         text NOT NULL DEFAULT '{}',
      writer       text,
      heartbeat_at double precision,
      implicit     integer NOT NULL DEFAULT 0,
      run_group    text,
      params       text NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_name ON gradscope.runs (name, started_at);
    CREATE TABLE gradscope.series (
      key     bigserial PRIMARY KEY,
      run_key bigint NOT NULL REFERENCES gradscope.runs (key),
      layer   text NOT NULL,
      kind    text NOT NULL,
      part    text NOT NULL,
      -- Snapshots written to the series so far: the next one's pos.
      count   bigint NOT NULL DEFAULT 0,
      UNIQUE (run_key, layer, kind, part)
    );
    -- The Arrow IPC stream of each snapshot as bytea, stored out of line without compression (float32
    -- tensors do not compress; see the store README for bytea against large objects).
    -- A payload has a key of its own, so that a write transaction uploads its payloads before it takes
    -- the state row's lock (see postgres/writer.ts): two servers' uploads overlap.
    CREATE TABLE gradscope.payloads (
      key bigserial PRIMARY KEY,
      ipc bytea NOT NULL
    );
    ALTER TABLE gradscope.payloads ALTER COLUMN ipc SET STORAGE EXTERNAL;
    CREATE TABLE gradscope.snapshots (
      id            bigserial PRIMARY KEY,
      run_key       bigint NOT NULL REFERENCES gradscope.runs (key),
      series_key    bigint NOT NULL REFERENCES gradscope.series (key),
      pos           bigint NOT NULL,
      iteration     bigint NOT NULL,
      epoch         bigint NOT NULL,
      batch         bigint NOT NULL,
      layer         text NOT NULL,
      layer_class   text NOT NULL,
      kind          text NOT NULL,
      part          text NOT NULL DEFAULT '',
      channel_parts text,
      shape         text NOT NULL,
      dims          text NOT NULL,
      loss          double precision,
      time          double precision NOT NULL,
      non_finite    bigint NOT NULL,
      payload_bytes bigint NOT NULL,
      payload_key   bigint NOT NULL REFERENCES gradscope.payloads (key),
      ${pgStatColumnsSql('snapshots')}
    );
    CREATE INDEX snapshots_series ON gradscope.snapshots (series_key, iteration, id);
    CREATE INDEX snapshots_run ON gradscope.snapshots (run_key, iteration, id);
    CREATE TABLE gradscope.summaries (
      snapshot_id    bigint NOT NULL REFERENCES gradscope.snapshots (id),
      channel_part   text NOT NULL,
      ord            integer NOT NULL,
      ${pgStatColumnsSql('summaries')},
      timestep_norms bytea,
      channel_norms  bytea,
      histogram      bytea NOT NULL,
      PRIMARY KEY (snapshot_id, channel_part)
    );
    CREATE TABLE gradscope.scalars (
      seq       bigserial PRIMARY KEY,
      run_key   bigint NOT NULL REFERENCES gradscope.runs (key),
      iteration bigint NOT NULL,
      name      text NOT NULL,
      value     double precision,
      time      double precision NOT NULL
    );
    CREATE INDEX scalars_series ON gradscope.scalars (run_key, name, iteration, seq);
    -- A token per committed write group: after a connection lost during COMMIT, the writer looks its token
    -- up to tell a commit that happened from one that did not (and never writes a group twice).
    CREATE TABLE gradscope.commits (
      token uuid PRIMARY KEY,
      at    double precision NOT NULL
    );
    ${V2_DDL}`;
}

/** The schema version of the database, or undefined when it holds no gradscope store. */
async function versionOf(client: pg.ClientBase): Promise<number | undefined> {
  // From the catalog's rows, by the statement's snapshot, not to_regclass: its cached lookup is not refreshed
  // by an advisory lock, so a writer that waited on SCHEMA_LOCK while another created the tables still saw
  // none, and failed creating them again ('relation "meta" already exists', found by two writers opening a
  // new database at once).
  const exists = await client.query(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'gradscope' AND c.relname = 'meta') AS ok`,
  );
  if (!exists.rows[0].ok) return undefined;
  const r = await client.query("SELECT value FROM gradscope.meta WHERE key = 'schema_version'");
  return r.rows.length === 0 ? undefined : Number(r.rows[0].value);
}

function newer(url: string, version: number): StoreError {
  return new StoreError(
    'ENEWER',
    `${shownUrl(url)}: the gradscope store there has schema version ${version}, newer than this gradscope's ${PG_SCHEMA_VERSION}: upgrade gradscope`,
    { file: shownUrl(url) },
  );
}

/**
 * Creates the store's tables when the database has none, or migrates older ones (the writer's first use).
 * ENEWER for a newer schema; the connection's errors as fromPg's.
 */
export async function ensureSchema(pool: pg.Pool, url: string): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw fromPg(err, url, 'connecting');
  }
  try {
    const quick = await versionOf(client);
    if (quick === PG_SCHEMA_VERSION) return;
    if (quick !== undefined && quick > PG_SCHEMA_VERSION) throw newer(url, quick);
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    const version = await versionOf(client);
    if (version === undefined) {
      await client.query(createSql());
      for (const [key, value] of [...STORE_META, ['schema_version', String(PG_SCHEMA_VERSION)]])
        await client.query('INSERT INTO gradscope.meta (key, value) VALUES ($1, $2)', [key, value]);
    } else if (version > PG_SCHEMA_VERSION) {
      throw newer(url, version);
    }
    // Migrations, one step per version.
    if (version === 1) {
      await client.query(`DROP INDEX IF EXISTS gradscope.snapshots_pos; ${V2_DDL}`);
      await rebuildChunks(client);
      await client.query("UPDATE gradscope.meta SET value = '2' WHERE key = 'schema_version'");
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw fromPg(err, url, 'creating the gradscope tables');
  } finally {
    client.release();
  }
}

/**
 * Checks that the database holds a gradscope store this code reads (the reader's first query): ENOTDB when
 * it holds none (a reader never creates one), ENEWER for a newer schema.
 */
export async function checkSchema(pool: pg.Pool, url: string): Promise<void> {
  let version: number | undefined;
  try {
    const client = await pool.connect();
    try {
      version = await versionOf(client);
    } finally {
      client.release();
    }
  } catch (err) {
    throw fromPg(err, url, 'connecting');
  }
  if (version === undefined) {
    throw new StoreError(
      'ENOTDB',
      `${shownUrl(url)}: no gradscope store in this database (open it for writing once: gradscope serve, or openStore)`,
      { file: shownUrl(url) },
    );
  }
  if (version > PG_SCHEMA_VERSION) throw newer(url, version);
  if (version < PG_SCHEMA_VERSION) {
    const where = shownUrl(url);
    throw new StoreError(
      'EOLDER',
      `${where} has schema version ${version}, older than ${PG_SCHEMA_VERSION} (written by an older gradscope): migrate it once by opening it for writing: run \`gradscope vacuum ${where}\` (or openStore('${where}') in code), then open it again`,
      { file: where },
    );
  }
}
