// Maintenance of a PostgreSQL store: its size, retention (compact) and VACUUM; the SQLite file's is
// maintenance.ts.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { CompactPolicy, CompactResult } from '../provider.js';
import { rebuildChunks } from './chunks.js';
import { fromPg } from './connection.js';
import { transaction } from './transaction.js';
import { findRun, type RunWriting } from './write-runs.js';

/** The writer maintenance works for: its pool and URL, its identity. */
export interface Maintained extends RunWriting {
  readonly pool: pg.Pool;
  readonly url: string;
}

/** The bytes the store's tables take on the server (tables, their TOAST and indexes). */
export async function size(w: Maintained): Promise<number> {
  const { rows } = await w.pool.query(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'gradscope' AND c.relkind = 'r'`,
  );
  return rows[0].bytes as number;
}

/**
 * Retention (see RunWriter.compact): per run, keeps the first `keepFirst` iterations, every `every`-th after
 * them, the last one and the `keep` list, removes the snapshots of the others (scalars stay), renumbers
 * each series' positions in (iteration, id) order (as the SQLite file rebuilds its chunks), then VACUUMs.
 */
export async function compact(w: Maintained, policy: CompactPolicy): Promise<CompactResult> {
  const bytesBefore = await size(w);
  let removed = 0;
  let kept = 0;
  let runs = 0;
  await transaction(w.pool, randomUUID(), async (c) => {
    const keys = policy.runs
      ? await Promise.all(policy.runs.map((r) => findRun(w, c, r, `compact run ${JSON.stringify(r)}`)))
      : ((await c.query('SELECT key FROM gradscope.runs ORDER BY key')).rows.map((r) => r.key) as number[]);
    const keepFirst = policy.keepFirst ?? 0;
    const chosen = new Set(policy.keep ?? []);
    for (const key of keys) {
      runs++;
      const its = (
        await c.query(
          'SELECT DISTINCT iteration FROM gradscope.snapshots WHERE run_key = $1 ORDER BY iteration',
          [key],
        )
      ).rows.map((r) => Number(r.iteration));
      const drop = its.filter(
        (it, i) =>
          i >= keepFirst && (i - keepFirst) % policy.every !== 0 && i !== its.length - 1 && !chosen.has(it),
      );
      if (drop.length > 0) {
        const ids = 'SELECT id FROM gradscope.snapshots WHERE run_key = $1 AND iteration = ANY($2::bigint[])';
        await c.query(`DELETE FROM gradscope.summaries WHERE snapshot_id IN (${ids})`, [key, drop]);
        // The snapshots and their payloads in one statement (the foreign key is checked at its end).
        removed += (
          await c.query(
            `WITH d AS (DELETE FROM gradscope.snapshots WHERE run_key = $1 AND iteration = ANY($2::bigint[])
               RETURNING payload_key)
             DELETE FROM gradscope.payloads WHERE key IN (SELECT payload_key FROM d)`,
            [key, drop],
          )
        ).rowCount!;
        await renumber(c, key);
      }
      kept += Number(
        (await c.query('SELECT count(*) AS n FROM gradscope.snapshots WHERE run_key = $1', [key])).rows[0].n,
      );
    }
  });
  await vacuum(w);
  return {
    runs,
    snapshotsRemoved: removed,
    snapshotsKept: kept,
    bytesBefore,
    bytesAfter: await size(w),
  };
}

/**
 * VACUUM FULL of the store's tables (RunWriter.vacuum, and compact, whose bytesAfter then counts the space
 * given back, as the file's compact shrinks the file): it rewrites them, giving the space of removed rows back
 * to the file system, and locks each table while it runs.
 */
export async function vacuum(w: Maintained): Promise<void> {
  try {
    for (const t of [
      'payloads',
      'summaries',
      'snapshots',
      'series_chunks',
      'series',
      'scalars',
      'runs',
      'commits',
    ])
      await w.pool.query(`VACUUM FULL gradscope.${t}`);
  } catch (err) {
    throw fromPg(err, w.url, 'vacuuming');
  }
}

/** Snapshots a writer writes before its first ANALYZE; the next after twice as many, and so on. */
export const ANALYZE_FIRST = 500;

/**
 * ANALYZE of the tables a write grows. Autovacuum analyzes them too, but up to a minute later: until then
 * the planner takes a table of 50,000 snapshots for an empty one and the run list, seeking each series' ends,
 * sorted whole series instead (11 ms against 0.75 ms for one of 20,000, measured). The writer runs it when
 * it has written ANALYZE_FIRST snapshots, then 2, 4, 8… times as many, on its pool's spare connection.
 */
export async function analyze(w: Maintained): Promise<void> {
  await w.pool.query(
    'ANALYZE gradscope.snapshots, gradscope.summaries, gradscope.series, gradscope.series_chunks, gradscope.payloads',
  );
}

/** Renumbers the positions of a run's series in (iteration, id) order, rebuilds their chunks; series left empty go. */
async function renumber(c: pg.ClientBase, runKey: number): Promise<void> {
  await c.query(
    `UPDATE gradscope.snapshots s SET pos = n.pos FROM (
       SELECT id, row_number() OVER (PARTITION BY series_key ORDER BY iteration, id) - 1 AS pos
       FROM gradscope.snapshots WHERE run_key = $1) n
     WHERE s.id = n.id AND s.pos <> n.pos`,
    [runKey],
  );
  await c.query(
    `UPDATE gradscope.series k SET count = (SELECT count(*) FROM gradscope.snapshots s WHERE s.series_key = k.key)
     WHERE k.run_key = $1`,
    [runKey],
  );
  await rebuildChunks(c, runKey);
  await c.query('DELETE FROM gradscope.series WHERE run_key = $1 AND count = 0', [runKey]);
}
