// The write side on PostgreSQL: the same operations as the SQLite SnapshotWriter (writer-db.ts), each group
// in one transaction (transaction.ts), by stage: the group's payloads uploaded first, then its runs
// (write-runs.ts) and snapshots and scalars (write-data.ts); maintenance in maintenance.ts.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writerIdentity } from '../liveness.js';
import { opLabel, type WriteOp } from '../operations.js';
import type { CompactPolicy, CompactResult } from '../provider.js';
import type { OpResult } from '../writer-db.js';
import { fromPg, isUnavailable, shownUrl } from './connection.js';
import { ANALYZE_FIRST, analyze, compact, size, vacuum } from './maintenance.js';
import { transaction } from './transaction.js';
import { insertPayloads, insertSnapshot } from './write-data.js';
import { applyRunOp, claimRun } from './write-runs.js';

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
      const ids = await transaction(
        this.pool,
        token,
        (c) => this.applyAll(c, ops, payloads),
        async (c) => {
          payloads = await insertPayloads(c, ops);
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

  /** Applies the group's operations; `payloads` are the keys of its writes' payloads, in order. */
  private async applyAll(
    c: pg.PoolClient,
    ops: WriteOp[],
    payloads: number[],
  ): Promise<(number | undefined)[]> {
    const runKeys = new Map<string, number>();
    const ids: (number | undefined)[] = [];
    let write = 0;
    for (const op of ops) {
      if (op.type !== 'write') {
        ids.push(await applyRunOp(this, c, op, runKeys));
        continue;
      }
      const { meta } = op.snapshot;
      const runKey = await claimRun(this, c, meta.run, meta.time, runKeys);
      ids.push(await insertSnapshot(c, op.snapshot, runKey, payloads[write++]!));
    }
    return ids;
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
  size(): Promise<number> {
    return size(this);
  }

  /** Retention (see RunWriter.compact and maintenance.ts), then VACUUM. */
  compact(policy: CompactPolicy): Promise<CompactResult> {
    return compact(this, policy);
  }

  private written = 0;
  private analyzeAt = ANALYZE_FIRST;
  /** The ANALYZE running, if one is. */
  analyzing: Promise<void> | undefined;

  /**
   * Counts `n` snapshots committed; starts an ANALYZE (maintenance.ts) in the background when they reach the
   * next threshold and none runs. Its failure (a role that does not own the tables) changes nothing.
   */
  wrote(n: number): void {
    this.written += n;
    if (this.written < this.analyzeAt || this.analyzing) return;
    while (this.analyzeAt <= this.written) this.analyzeAt *= 2;
    this.analyzing = analyze(this)
      .catch(() => {})
      .finally(() => (this.analyzing = undefined));
  }

  /** VACUUM FULL of the store's tables (`full`), or plain VACUUM (see maintenance.ts). */
  vacuum(full = true): Promise<void> {
    return vacuum(this, full);
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
