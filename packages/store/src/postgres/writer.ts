// The write side on PostgreSQL: the same operations as the SQLite SnapshotWriter (writer-db.ts), each group
// in one transaction. A group uploads its payloads, then raises gradscope.state's version: the row lock this
// takes orders the write transactions of every server on the database, so snapshot ids become visible in id
// order (what RunReader.snapshotsAfter relies on), and its NOTIFY tells every reader when it commits.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SUMMARY_STATS, statColumns, statValues } from '../columns.js';
import { StoreError } from '../errors.js';
import { writerIdentity } from '../liveness.js';
import type { EncodedSnapshot, WriteOp } from '../operations.js';
import type { CompactPolicy, CompactResult } from '../provider.js';
import type { TensorSummary } from '../types.js';
import type { OpResult } from '../writer-db.js';
import { fromPg, isUnavailable, shownUrl } from './connection.js';

/** The channel every write transaction notifies, with the new data version as payload. */
export const CHANNEL = 'gradscope_changes';

/** The model summary of a run recorded without startRun (as the SQLite writer records it). */
const NO_MODEL = JSON.stringify({
  name: '',
  className: '',
  layers: [],
  inputShape: [],
  outputShape: [],
  losses: [],
});

/** `$from, $from+1, …`: n numbered parameters. */
const params = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ');

const SNAPSHOT_INSERT = `
  WITH k AS (
    INSERT INTO gradscope.series AS x (run_key, layer, kind, part, count) VALUES ($1, $5, $7, $8, 1)
    ON CONFLICT (run_key, layer, kind, part) DO UPDATE SET count = x.count + 1
    RETURNING key, count - 1 AS pos)
  , s AS (INSERT INTO gradscope.snapshots (run_key, series_key, pos, iteration, epoch, batch, layer, layer_class,
    kind, part, channel_parts, shape, dims, loss, time, non_finite, payload_bytes, ${statColumns('snapshots')},
    payload_key)
  SELECT $1, k.key, k.pos, ${params(15 + SUMMARY_STATS.length, 2)} FROM k
  RETURNING id)`;

const SUMMARY_COLUMNS = `snapshot_id, channel_part, ord, timestep_norms, channel_norms, histogram, ${statColumns('summaries')}`;
/** The types of a summary row's values after its snapshot id (a VALUES list gives them no context). */
const SUMMARY_TYPES = [
  'text',
  'integer',
  'bytea',
  'bytea',
  'bytea',
  ...SUMMARY_STATS.map((m) => (m.sql.startsWith('REAL') ? 'double precision' : 'bigint')),
];

/** A typed array as a Buffer over the same bytes (pg sends Buffers as binary parameters). */
function bytes(a: ArrayBufferView | null): Buffer | null {
  return a === null ? null : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function opLabel(op: WriteOp): string {
  switch (op.type) {
    case 'write':
      return `writing snapshot ${op.snapshot.label}`;
    case 'startRun':
      return `starting run ${op.run.id}`;
    case 'endRun':
      return `ending run ${op.runId}`;
    case 'scalars':
      return `writing ${op.points.length} scalars of run ${op.runId}`;
    case 'renameRun':
      return `renaming run ${op.run}`;
    case 'updateRunMeta':
      return `updating the metadata of run ${op.run}`;
    case 'tagRun':
      return `tagging run ${op.run}`;
    case 'deleteRun':
      return `deleting run ${op.run}`;
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

export class PgWriter {
  /** 'host pid start' of this process, recorded on the runs it writes (heartbeats refresh them). */
  readonly writer = writerIdentity();
  readonly where: string;

  constructor(
    readonly pool: pg.Pool,
    readonly url: string,
  ) {
    this.where = shownUrl(url);
  }

  /**
   * Commits `ops` in one transaction marked by `token`. When the group fails for another reason than the
   * connection, each op is retried alone so that one bad op fails alone. Throws only when the database is
   * unreachable (the caller retries, after asking committed(token)); otherwise every op gets a result.
   */
  async commit(ops: WriteOp[], token: string = randomUUID()): Promise<OpResult[]> {
    if (ops.length === 0) return [];
    try {
      let payloads: number[] = [];
      const ids = await this.transaction(
        token,
        (c) => this.applyAll(c, ops, payloads),
        async (c) => {
          payloads = await this.insertPayloads(c, ops);
        },
      );
      return ids.map((id) => (id === undefined ? { ok: true } : { ok: true, id }));
    } catch (err) {
      if (isUnavailable(err)) throw err;
      const error = fromPg(err, this.url, opLabel(ops[0]!));
      if (ops.length === 1) return [{ ok: false, error }];
      const out: OpResult[] = [];
      for (const op of ops) out.push(...(await this.commit([op])));
      return out;
    }
  }

  /** Whether the group marked `token` was committed (after a connection lost around its COMMIT). */
  async committed(token: string): Promise<boolean> {
    const r = await this.pool.query('SELECT 1 FROM gradscope.commits WHERE token = $1', [token]);
    return r.rows.length > 0;
  }

  /**
   * Runs `fn` in a transaction marked by `token`, after `before` (work that needs no lock: the payloads'
   * upload). The state row is locked from its version raise to the COMMIT.
   */
  private async transaction<T>(
    token: string,
    fn: (c: pg.PoolClient) => Promise<T>,
    before?: (c: pg.PoolClient) => Promise<void>,
  ): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      await before?.(client);
      const { rows } = await client.query({
        name: 'gs_version',
        text: 'UPDATE gradscope.state SET version = version + 1 RETURNING version',
      });
      const version = String(rows[0].version);
      const value = await fn(client);
      await client.query({
        name: 'gs_commit',
        text: 'WITH c AS (INSERT INTO gradscope.commits (token, at) VALUES ($1, $2)) SELECT pg_notify($3, $4)',
        values: [token, Date.now(), CHANNEL, version],
      });
      await client.query('COMMIT');
      return value;
    } catch (err) {
      broken = isUnavailable(err);
      if (!broken) await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Applies the group's operations; `payloads` are the keys of its writes' payloads, in order. */
  private async applyAll(
    c: pg.PoolClient,
    ops: WriteOp[],
    payloads: number[],
  ): Promise<(number | undefined)[]> {
    const runKeys = new Map<string, number>();
    const ids: (number | undefined)[] = [];
    let write = 0;
    for (const op of ops)
      ids.push(
        op.type === 'write'
          ? await this.insertSnapshot(c, op.snapshot, runKeys, payloads[write++]!)
          : await this.apply(c, op, runKeys),
      );
    return ids;
  }

  /** The key of a run written to by this group, recording it when unknown and claiming it (liveness). */
  private async runKey(
    c: pg.PoolClient,
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
      values: [runId, time, NO_MODEL, this.writer, Date.now()],
    });
    const key = rows[0].key as number;
    keys.set(runId, key);
    return key;
  }

  /** The key of a run by id, or by name (the most recently started run of that name); ENOTFOUND. */
  private async findRun(c: pg.PoolClient, run: string, doing: string): Promise<number> {
    const { rows } = await c.query(
      `(SELECT key FROM gradscope.runs WHERE id = $1)
       UNION ALL (SELECT key FROM gradscope.runs WHERE name = $1 ORDER BY started_at DESC, key DESC LIMIT 1)
       LIMIT 1`,
      [run],
    );
    if (rows.length === 0) {
      throw new StoreError(
        'ENOTFOUND',
        `${this.where}: cannot ${doing}: no run with id or name ${JSON.stringify(run)}`,
        { file: this.where },
      );
    }
    return rows[0].key as number;
  }

  private async apply(
    c: pg.PoolClient,
    op: Exclude<WriteOp, { type: 'write' }>,
    keys: Map<string, number>,
  ): Promise<number | undefined> {
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
            this.writer,
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
          throw new StoreError('ENOTFOUND', `${this.where}: cannot end run ${op.runId}: no such run`, {
            file: this.where,
          });
        return undefined;
      }
      case 'scalars': {
        if (op.points.length === 0) return undefined;
        const runKey = await this.runKey(c, op.runId, op.points[0]?.time ?? Date.now(), keys);
        const p = op.points;
        await c.query(
          `INSERT INTO gradscope.scalars (run_key, iteration, name, value, time)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::float8[], $5::float8[])`,
          [
            runKey,
            p.map((x) => x.iteration),
            p.map((x) => x.name),
            // Arrays go as text: NaN and ±Infinity spelled as PostgreSQL reads them.
            p.map((x) => (x.value === null ? null : floatText(x.value))),
            p.map((x) => floatText(x.time)),
          ],
        );
        return undefined;
      }
      case 'renameRun':
        await c.query('UPDATE gradscope.runs SET name = $1 WHERE key = $2', [
          op.name,
          await this.findRun(c, op.run, `rename run ${JSON.stringify(op.run)}`),
        ]);
        return undefined;
      case 'updateRunMeta': {
        // Only `meta` changes: the status, end time, model and writer of the run stay as they are.
        const key = await this.findRun(c, op.run, `update the metadata of run ${JSON.stringify(op.run)}`);
        const { rows } = await c.query('SELECT meta FROM gradscope.runs WHERE key = $1 FOR UPDATE', [key]);
        const old = JSON.parse((rows[0]?.meta as string | undefined) ?? '{}') as unknown;
        const base = old !== null && typeof old === 'object' && !Array.isArray(old) ? old : {};
        await c.query('UPDATE gradscope.runs SET meta = $1 WHERE key = $2', [
          JSON.stringify({ ...base, ...op.meta }),
          key,
        ]);
        return undefined;
      }
      case 'tagRun': {
        const key = await this.findRun(c, op.run, `tag run ${JSON.stringify(op.run)}`);
        const { rows } = await c.query(
          'SELECT run_group, params FROM gradscope.runs WHERE key = $1 FOR UPDATE',
          [key],
        );
        const old = rows[0] as { run_group: string | null; params: string };
        const params = JSON.parse(old.params) as Record<string, unknown>;
        for (const [k, v] of Object.entries(op.tag.params ?? {})) {
          if (v === null) delete params[k];
          else params[k] = v;
        }
        const group = op.tag.group === undefined ? old.run_group : op.tag.group;
        await c.query('UPDATE gradscope.runs SET run_group = $1, params = $2 WHERE key = $3', [
          group,
          JSON.stringify(params),
          key,
        ]);
        return undefined;
      }
      case 'deleteRun':
        await deleteRunKey(c, await this.findRun(c, op.run, `delete run ${JSON.stringify(op.run)}`));
        keys.clear();
        return undefined;
    }
  }

  /**
   * Uploads the group's payloads, before the transaction takes the state row's lock: another server's
   * transaction commits meanwhile. Their keys, in the order of the group's writes.
   */
  private async insertPayloads(c: pg.PoolClient, ops: WriteOp[]): Promise<number[]> {
    const keys: number[] = [];
    for (const op of ops) {
      if (op.type !== 'write') continue;
      const { rows } = await c.query({
        name: 'gs_payload',
        text: 'INSERT INTO gradscope.payloads (ipc) VALUES ($1::bytea) RETURNING key',
        values: [bytes(op.snapshot.ipc)],
      });
      keys.push(rows[0].key as number);
    }
    return keys;
  }

  private async insertSnapshot(
    c: pg.PoolClient,
    encoded: EncodedSnapshot,
    keys: Map<string, number>,
    payloadKey: number,
  ) {
    const { meta, shape, dims, ipc } = encoded;
    // Summarized by the writer thread before the group (see writer.worker.ts).
    const summaries = encoded.summaries as TensorSummary[];
    const runKey = await this.runKey(c, meta.run, meta.time, keys);
    // One statement per snapshot: its series position, index row (its payload's key last) and summaries.
    const values: unknown[] = [
      runKey,
      meta.iteration,
      meta.epoch,
      meta.batch,
      meta.layer,
      meta.layerClass,
      meta.kind,
      meta.part ?? '',
      meta.channelParts ? JSON.stringify(meta.channelParts) : null,
      JSON.stringify(shape),
      JSON.stringify(dims),
      meta.loss === null ? null : floatText(meta.loss),
      floatText(meta.time),
      meta.nonFinite,
      ipc.byteLength,
      ...statValues(summaries[0]!).map(numberParam),
      payloadKey,
    ];
    const tuples: string[] = [];
    summaries.forEach((m, i) => {
      const from = values.length + 1;
      tuples.push(`(${SUMMARY_TYPES.map((t, k) => `$${from + k}::${t}`).join(', ')})`);
      values.push(
        m.channelPart,
        i,
        bytes(m.timestepNorms),
        bytes(m.channelNorms),
        bytes(m.histogram),
        ...statValues(m).map(numberParam),
      );
    });
    const { rows } = await c.query({
      name: `gs_snapshot_${summaries.length}`,
      text: `${SNAPSHOT_INSERT},
        m AS (INSERT INTO gradscope.summaries (${SUMMARY_COLUMNS})
          SELECT s.id, v.* FROM s, (VALUES ${tuples.join(', ')}) AS v)
        SELECT id FROM s`,
      values,
    });
    const id = rows[0].id as number;
    return id;
  }

  /** Refreshes the heartbeat of the running runs this process writes (see liveness.ts). Never throws. */
  async heartbeat(): Promise<void> {
    try {
      await this.pool.query(
        "UPDATE gradscope.runs SET heartbeat_at = $1 WHERE writer = $2 AND status = 'running'",
        [Date.now(), this.writer],
      );
    } catch {
      // Unreachable: the next beat tries again; a reader needs one beat per STALE_AFTER_MS.
    }
  }

  /** The bytes the store's tables take on the server (tables, their TOAST and indexes). */
  async size(): Promise<number> {
    const { rows } = await this.pool.query(
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
  async compact(policy: CompactPolicy): Promise<CompactResult> {
    const bytesBefore = await this.size();
    let removed = 0;
    let kept = 0;
    let runs = 0;
    await this.transaction(randomUUID(), async (c) => {
      const keys = policy.runs
        ? await Promise.all(policy.runs.map((r) => this.findRun(c, r, `compact run ${JSON.stringify(r)}`)))
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
          const ids =
            'SELECT id FROM gradscope.snapshots WHERE run_key = $1 AND iteration = ANY($2::bigint[])';
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
          (await c.query('SELECT count(*) AS n FROM gradscope.snapshots WHERE run_key = $1', [key])).rows[0]
            .n,
        );
      }
    });
    await this.vacuum();
    return {
      runs,
      snapshotsRemoved: removed,
      snapshotsKept: kept,
      bytesBefore,
      bytesAfter: await this.size(),
    };
  }

  /**
   * VACUUM of the store's tables. `full` (RunWriter.vacuum): VACUUM FULL rewrites them, giving the space of
   * removed rows back to the file system as the SQLite file's VACUUM does (it locks each table while it
   * runs); plain (after compact): the space is reused by later writes, without locking out readers.
   */
  async vacuum(full = true): Promise<void> {
    try {
      for (const t of ['payloads', 'summaries', 'snapshots', 'series', 'scalars', 'runs', 'commits'])
        await this.pool.query(`VACUUM ${full ? 'FULL ' : ''}gradscope.${t}`);
    } catch (err) {
      throw fromPg(err, this.url, 'vacuuming');
    }
  }

  /** Finishes the runs this writer created from snapshots alone (at their last snapshot). */
  async finishImplicit(): Promise<void> {
    await this.pool.query(
      `UPDATE gradscope.runs SET status = 'finished',
         ended_at = coalesce((SELECT max(time) FROM gradscope.snapshots s WHERE s.run_key = runs.key), $1)
       WHERE writer = $2 AND implicit = 1 AND status = 'running'`,
      [Date.now(), this.writer],
    );
  }
}

/** Deletes a run and everything recorded for it (inside a transaction). */
async function deleteRunKey(c: pg.ClientBase, key: number): Promise<void> {
  const snapshots = 'SELECT id FROM gradscope.snapshots WHERE run_key = $1';
  for (const sql of [
    `DELETE FROM gradscope.summaries WHERE snapshot_id IN (${snapshots})`,
    `WITH d AS (DELETE FROM gradscope.snapshots WHERE run_key = $1 RETURNING payload_key)
     DELETE FROM gradscope.payloads WHERE key IN (SELECT payload_key FROM d)`,
    'DELETE FROM gradscope.series WHERE run_key = $1',
    'DELETE FROM gradscope.scalars WHERE run_key = $1',
    'DELETE FROM gradscope.runs WHERE key = $1',
  ]) {
    await c.query(sql, [key]);
  }
}

/** Renumbers the positions of a run's series in (iteration, id) order; series left empty go. */
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
  await c.query('DELETE FROM gradscope.series WHERE run_key = $1 AND count = 0', [runKey]);
}

/** A float8 parameter as text PostgreSQL reads back exactly (JS prints the shortest round-trip digits). */
function floatText(v: number): string {
  return Number.isNaN(v)
    ? 'NaN'
    : v === Number.POSITIVE_INFINITY
      ? 'Infinity'
      : v === Number.NEGATIVE_INFINITY
        ? '-Infinity'
        : String(v);
}

function numberParam(v: number | null): string | null {
  return v === null ? null : floatText(v);
}
