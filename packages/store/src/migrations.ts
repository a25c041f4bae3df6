// Reading files of earlier versions: the steps that take a file of schema version 1, 2 or 3 to the current
// one (schema.ts). Their test opens a real version-1 file (test-util/fixtures/v1.gradscope.gz, written by
// the store of commit fb927bb) and compares the migrated schema with a new file's.
import { memoryHorizon } from '@gradscope/format';
import { rebuildSeriesChunks } from './chunks.js';
import {
  type Db,
  SCHEMA_VERSION,
  type SummaryRow,
  scalarsSql,
  seriesChunkCountsSql,
  seriesChunksSql,
} from './schema.js';

function f32(buf: Buffer): Float32Array {
  return new Float32Array(new Uint8Array(buf).buffer);
}

/**
 * Version 1 → 2: memory horizon beside every summary (computed here from the stored timestep norms, as the
 * summary pass computes it from the same float32 norms), per-row statistics of series chunks, the scalars
 * table, and the writer liveness columns of runs.
 */
function migrateV2(db: Db): void {
  db.exec(`
    ALTER TABLE runs ADD COLUMN writer TEXT;
    ALTER TABLE runs ADD COLUMN heartbeat_at REAL;
    ALTER TABLE runs ADD COLUMN implicit INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE snapshots ADD COLUMN horizon INTEGER;
    ALTER TABLE snapshots ADD COLUMN t0_ratio REAL;
    ALTER TABLE summaries ADD COLUMN horizon INTEGER;
    ALTER TABLE summaries ADD COLUMN t0_ratio REAL;
    ${scalarsSql};
  `);
  const setSummary = db.prepare(
    'UPDATE summaries SET horizon = ?, t0_ratio = ? WHERE snapshot_id = ? AND channel_part = ?',
  );
  for (const r of db
    .prepare(
      'SELECT snapshot_id, channel_part, timestep_norms FROM summaries WHERE timestep_norms IS NOT NULL',
    )
    .all() as Pick<SummaryRow, 'snapshot_id' | 'channel_part' | 'timestep_norms'>[]) {
    const h = memoryHorizon(f32(r.timestep_norms!));
    if (h.horizon !== null) setSummary.run(h.horizon, h.t0Ratio, r.snapshot_id, r.channel_part);
  }
  db.exec(`
    UPDATE snapshots SET
      horizon = (SELECT horizon FROM summaries m WHERE m.snapshot_id = snapshots.id AND m.channel_part = ''),
      t0_ratio = (SELECT t0_ratio FROM summaries m WHERE m.snapshot_id = snapshots.id AND m.channel_part = '')
  `);
  // Series chunks gain levels (see chunks.ts) and per-row statistics: rebuilt from the summaries, in the
  // table as the current schema has it.
  db.exec('DROP TABLE series_chunks');
  db.exec(seriesChunksSql);
  rebuildSeriesChunks(db);
}

/**
 * Version 2 → 3: a run's group and params (RunInfo.group, RunInfo.params). Adding a column with a constant
 * default rewrites nothing: the runs of an older file read with no group and `{}`.
 */
function migrateV3(db: Db): void {
  db.exec(`
    ALTER TABLE runs ADD COLUMN run_group TEXT;
    ALTER TABLE runs ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX runs_group ON runs (run_group);
  `);
}

/** Version 3 → 4: the index of series chunks' row counts (schema.ts, seriesChunkCountsSql). */
function migrateV4(db: Db): void {
  db.exec(seriesChunkCountsSql);
}

/** STEPS[v] takes a file from version v to v + 1 (version 0 is an empty file: createSchema instead). */
const STEPS: Record<number, (db: Db) => void> = { 1: migrateV2, 2: migrateV3, 3: migrateV4 };

/** Takes a file of version `from` (≥ 1) to SCHEMA_VERSION. Call inside a transaction. */
export function migrate(db: Db, from: number): void {
  for (let v = from; v < SCHEMA_VERSION; v++) STEPS[v]!(db);
}
