// The SQL of the writer connection (SnapshotWriter), prepared once per connection, and the one preparation of a
// snapshot on the calling thread (bench, tests): validated, encoded and summarized.
import type { Statement } from 'better-sqlite3';
import { params, SUMMARY_STATS, statColumns } from './columns.js';
import { type EncodedSnapshot, NO_MODEL } from './operations.js';
import { encodePayload } from './payload.js';
import type { Db } from './sqlite.js';
import { summarize } from './summary.js';
import { snapshotMeta } from './tensor.js';
import type { Snapshot } from './types.js';
import { validateSnapshot } from './validate.js';

/** The columns of a snapshot row before its statistics, in the order insertSnapshot binds them. */
const SNAPSHOT_FIELDS = [
  'run_key',
  'iteration',
  'epoch',
  'batch',
  'layer',
  'layer_class',
  'kind',
  'part',
  'channel_parts',
  'shape',
  'dims',
  'loss',
  'time',
  'non_finite',
  'payload_bytes',
];

/**
 * A snapshot encoded and summarized on this thread (the bench and tests write through SnapshotWriter
 * directly; the store's training thread encodes, and its writer thread summarizes).
 */
export function prepareSnapshot(snapshot: Snapshot, label = validateSnapshot(snapshot)): EncodedSnapshot {
  const meta = snapshotMeta(snapshot);
  const { shape, dims, data } = snapshot;
  const { ipc, dataOffset } = encodePayload(data, shape, dims, meta);
  const summaries = summarize(data, shape, dims, meta.channelParts);
  return { meta, shape: [...shape], dims: [...dims], ipc, dataOffset, label, summaries };
}

/** The writer connection's statements. */
export type WriterStatements = Record<
  | 'upsertRun'
  | 'implicitRun'
  | 'runKey'
  | 'claimRun'
  | 'findRun'
  | 'endRun'
  | 'rename'
  | 'getMeta'
  | 'setMeta'
  | 'getTag'
  | 'setTag'
  | 'snapshot'
  | 'payload'
  | 'series'
  | 'seriesKey'
  | 'summary'
  | 'scalar'
  | 'heartbeat'
  | 'finishImplicit',
  Statement
>;

export function writerStatements(db: Db): WriterStatements {
  return {
    upsertRun: db.prepare(`
      INSERT INTO runs (id, name, started_at, status, model, options, backend, tfjs_version, host, meta,
        run_group, params, writer, heartbeat_at, implicit)
      VALUES (@id, @name, @startedAt, 'running', @model, @options, @backend, @tfjsVersion, @host, @meta,
        @group, @params, @writer, @now, 0)
      ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, status = 'running', ended_at = NULL, model = excluded.model,
        options = excluded.options, backend = excluded.backend, tfjs_version = excluded.tfjs_version,
        host = excluded.host, meta = excluded.meta, writer = excluded.writer,
        heartbeat_at = excluded.heartbeat_at, implicit = 0,
        -- A later fit of the same run keeps a tag set in between: the new values go over the stored ones.
        run_group = coalesce(excluded.run_group, runs.run_group),
        params = json_patch(runs.params, excluded.params)`),
    implicitRun: db.prepare(`
      INSERT OR IGNORE INTO runs (id, name, started_at, status, model, options, backend, tfjs_version, host,
        writer, heartbeat_at, implicit)
      VALUES (?, ?, ?, 'running', '${NO_MODEL}', '{}', '', '', '', ?, ?, 1)`),
    runKey: db.prepare('SELECT key FROM runs WHERE id = ?').pluck(),
    // A run this process writes to is its to keep alive; a run made by a snapshot runs again when written.
    claimRun: db.prepare(`
      UPDATE runs SET writer = ?, heartbeat_at = ?,
        status = CASE WHEN implicit = 1 THEN 'running' ELSE status END,
        ended_at = CASE WHEN implicit = 1 THEN NULL ELSE ended_at END
      WHERE key = ?`),
    findRun: db
      .prepare(`
      SELECT key FROM runs WHERE id = @run
      UNION ALL SELECT key FROM (SELECT key FROM runs WHERE name = @run ORDER BY started_at DESC, key DESC LIMIT 1)
      LIMIT 1`)
      .pluck(),
    endRun: db.prepare('UPDATE runs SET status = ?, ended_at = ? WHERE id = ?'),
    rename: db.prepare('UPDATE runs SET name = ? WHERE key = ?'),
    getMeta: db.prepare('SELECT meta FROM runs WHERE key = ?').pluck(),
    setMeta: db.prepare('UPDATE runs SET meta = ? WHERE key = ?'),
    getTag: db.prepare('SELECT run_group AS "group", params FROM runs WHERE key = ?'),
    setTag: db.prepare('UPDATE runs SET run_group = ?, params = ? WHERE key = ?'),
    snapshot: db.prepare(`
      INSERT INTO snapshots (${SNAPSHOT_FIELDS.join(', ')}, ${statColumns('snapshots')})
      VALUES (${params(SNAPSHOT_FIELDS.length + SUMMARY_STATS.length)})`),
    payload: db.prepare('INSERT INTO payloads (snapshot_id, ipc) VALUES (?, ?)'),
    series: db.prepare('INSERT OR IGNORE INTO series (run_key, layer, kind, part) VALUES (?, ?, ?, ?)'),
    seriesKey: db
      .prepare('SELECT key FROM series WHERE run_key = ? AND layer = ? AND kind = ? AND part = ?')
      .pluck(),
    summary: db.prepare(`
      INSERT INTO summaries (snapshot_id, channel_part, timestep_norms, channel_norms, histogram,
        ${statColumns('summaries')})
      VALUES (${params(5 + SUMMARY_STATS.length)})`),
    scalar: db.prepare('INSERT INTO scalars (run_key, iteration, name, value, time) VALUES (?, ?, ?, ?, ?)'),
    heartbeat: db.prepare("UPDATE runs SET heartbeat_at = ? WHERE writer = ? AND status = 'running'"),
    // Runs made by snapshots alone end with the writer that made them, at their last snapshot.
    finishImplicit: db.prepare(`
      UPDATE runs SET status = 'finished',
        ended_at = coalesce((SELECT max(time) FROM snapshots s WHERE s.run_key = runs.key), ?)
      WHERE writer = ? AND implicit = 1 AND status = 'running'`),
  };
}
