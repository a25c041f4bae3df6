// Runs on PostgreSQL: the run a write names (recorded when unknown, claimed for liveness), its start and end,
// and run management (rename, metadata, tags, delete), as the SQLite writer does them (writer-db.ts).
import type pg from 'pg';
import { StoreError } from '../errors.js';
import { mergedMeta, NO_MODEL, taggedRun, type WriteOp } from '../operations.js';
import { RUN_KEY } from './read-context.js';
import { insertScalars } from './write-data.js';

/** Who writes: the process's writer identity (liveness.ts) and the database, for messages. */
export interface RunWriting {
  readonly writer: string;
  readonly where: string;
}

/** The key of a run written to by this group, recording it when unknown and claiming it (liveness). */
export async function claimRun(
  w: RunWriting,
  c: pg.ClientBase,
  runId: string,
  time: number,
  keys: Map<string, number>,
): Promise<number> {
  const known = keys.get(runId);
  if (known !== undefined) return known;
  // One statement: a run never started is recorded with what is known; a known one is claimed (a run this
  // process writes to is its to keep alive; one made by a snapshot runs again when written). The UPDATE
  // does not see the INSERT's row, so exactly one of them answers.
  const { rows } = await c.query({
    name: 'gs_run_claim',
    text: `WITH i AS (
        INSERT INTO gradscope.runs (id, name, started_at, status, model, options, backend, tfjs_version, host,
          writer, heartbeat_at, implicit)
        VALUES ($1, $1, $2, 'running', $3, '{}', '', '', '', $4, $5, 1) ON CONFLICT (id) DO NOTHING
        RETURNING key),
      u AS (
        UPDATE gradscope.runs SET writer = $4, heartbeat_at = $5,
          status = CASE WHEN implicit = 1 THEN 'running' ELSE status END,
          ended_at = CASE WHEN implicit = 1 THEN NULL ELSE ended_at END
        WHERE id = $1 RETURNING key)
      SELECT key FROM i UNION ALL SELECT key FROM u`,
    values: [runId, time, NO_MODEL, w.writer, Date.now()],
  });
  const key = rows[0].key as number;
  keys.set(runId, key);
  return key;
}

/** The key of a run by id, or by name (the most recently started run of that name); ENOTFOUND. */
export async function findRun(w: RunWriting, c: pg.ClientBase, run: string, doing: string): Promise<number> {
  const { rows } = await c.query(RUN_KEY, [run]);
  if (rows.length === 0) {
    throw new StoreError(
      'ENOTFOUND',
      `${w.where}: cannot ${doing}: no run with id or name ${JSON.stringify(run)}`,
      { file: w.where },
    );
  }
  return rows[0].key as number;
}

export async function applyRunOp(
  w: RunWriting,
  c: pg.ClientBase,
  op: Exclude<WriteOp, { type: 'write' }>,
  keys: Map<string, number>,
): Promise<undefined> {
  switch (op.type) {
    case 'startRun': {
      const r = op.run;
      const old = await c.query('SELECT run_group, params FROM gradscope.runs WHERE id = $1 FOR UPDATE', [
        r.id,
      ]);
      const prev = old.rows[0] as { run_group: string | null; params: string } | undefined;
      // A later fit of the same run keeps a tag set in between: the new values go over the stored ones.
      const params = prev
        ? JSON.stringify(mergePatch(JSON.parse(prev.params), r.params ?? {}))
        : JSON.stringify(r.params ?? {});
      const group = r.group ?? prev?.run_group ?? null;
      const { rows } = await c.query(
        `INSERT INTO gradscope.runs (id, name, started_at, status, model, options, backend, tfjs_version, host,
           meta, run_group, params, writer, heartbeat_at, implicit)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)
         ON CONFLICT (id) DO UPDATE SET
           name = excluded.name, status = 'running', ended_at = NULL, model = excluded.model,
           options = excluded.options, backend = excluded.backend, tfjs_version = excluded.tfjs_version,
           host = excluded.host, meta = excluded.meta, writer = excluded.writer,
           heartbeat_at = excluded.heartbeat_at, implicit = 0, run_group = excluded.run_group,
           params = excluded.params
         RETURNING key`,
        [
          r.id,
          r.name,
          r.startedAt,
          JSON.stringify(r.model ?? {}),
          JSON.stringify(r.options ?? {}),
          String(r.backend ?? ''),
          String(r.tfjsVersion ?? ''),
          String(r.host ?? ''),
          JSON.stringify(r.meta ?? {}),
          group,
          params,
          w.writer,
          Date.now(),
        ],
      );
      keys.set(r.id, rows[0].key as number);
      return undefined;
    }
    case 'endRun': {
      const { rowCount } = await c.query(
        'UPDATE gradscope.runs SET status = $1, ended_at = $2 WHERE id = $3',
        [op.status, op.endedAt ?? Date.now(), op.runId],
      );
      if (rowCount === 0)
        throw new StoreError('ENOTFOUND', `${w.where}: cannot end run ${op.runId}: no such run`, {
          file: w.where,
        });
      return undefined;
    }
    case 'scalars':
      if (op.points.length === 0) return undefined;
      await insertScalars(
        c,
        await claimRun(w, c, op.runId, op.points[0]?.time ?? Date.now(), keys),
        op.points,
      );
      return undefined;
    case 'renameRun':
      await c.query('UPDATE gradscope.runs SET name = $1 WHERE key = $2', [
        op.name,
        await findRun(w, c, op.run, `rename run ${JSON.stringify(op.run)}`),
      ]);
      return undefined;
    case 'updateRunMeta': {
      // Only `meta` changes: the status, end time, model and writer of the run stay as they are.
      const key = await findRun(w, c, op.run, `update the metadata of run ${JSON.stringify(op.run)}`);
      const { rows } = await c.query('SELECT meta FROM gradscope.runs WHERE key = $1 FOR UPDATE', [key]);
      await c.query('UPDATE gradscope.runs SET meta = $1 WHERE key = $2', [
        mergedMeta(rows[0]?.meta as string | undefined, op.meta),
        key,
      ]);
      return undefined;
    }
    case 'tagRun': {
      const key = await findRun(w, c, op.run, `tag run ${JSON.stringify(op.run)}`);
      const { rows } = await c.query(
        'SELECT run_group, params FROM gradscope.runs WHERE key = $1 FOR UPDATE',
        [key],
      );
      const old = rows[0] as { run_group: string | null; params: string };
      const { group, params } = taggedRun({ group: old.run_group, params: old.params }, op.tag);
      await c.query('UPDATE gradscope.runs SET run_group = $1, params = $2 WHERE key = $3', [
        group,
        params,
        key,
      ]);
      return undefined;
    }
    case 'deleteRun':
      await deleteRunKey(c, await findRun(w, c, op.run, `delete run ${JSON.stringify(op.run)}`));
      keys.clear();
      return undefined;
  }
}

/** RFC 7396 merge patch (what SQLite's json_patch does): null removes a key, objects merge, the rest replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Deletes a run and everything recorded for it (inside a transaction). */
async function deleteRunKey(c: pg.ClientBase, key: number): Promise<void> {
  const snapshots = 'SELECT id FROM gradscope.snapshots WHERE run_key = $1';
  for (const sql of [
    `DELETE FROM gradscope.summaries WHERE snapshot_id IN (${snapshots})`,
    `WITH d AS (DELETE FROM gradscope.snapshots WHERE run_key = $1 RETURNING payload_key)
     DELETE FROM gradscope.payloads WHERE key IN (SELECT payload_key FROM d)`,
    'DELETE FROM gradscope.series_chunks WHERE series_key IN (SELECT key FROM gradscope.series WHERE run_key = $1)',
    'DELETE FROM gradscope.series WHERE run_key = $1',
    'DELETE FROM gradscope.scalars WHERE run_key = $1',
    'DELETE FROM gradscope.runs WHERE key = $1',
  ]) {
    await c.query(sql, [key]);
  }
}
