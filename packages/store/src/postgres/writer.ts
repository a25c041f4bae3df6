// The write side on PostgreSQL: the same operations as the SQLite SnapshotWriter (writer-db.ts), each group
// in one transaction (transaction.ts), by stage: the group's payloads uploaded first, then its runs
// (write-runs.ts) and snapshots and scalars (write-data.ts); maintenance in maintenance.ts.
import type pg from 'pg';
import { writerIdentity } from '../liveness.js';
import type { OpResult, WriteOp } from '../operations.js';
import type { CompactPolicy, CompactResult } from '../provider.js';
import { shownUrl } from './connection.js';
import { ANALYZE_FIRST, analyze, compact, vacuum } from './maintenance.js';
import { transaction } from './transaction.js';
import { insertPayloads, insertSnapshot } from './write-data.js';
import { applyRunOp, claimRun } from './write-runs.js';

/** How long a commit token is kept: far beyond any retry of its group (unavailableMs, 10 s by default). */
export const COMMIT_TOKENS_MS = 3_600_000;

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
   * Commits `ops` in one transaction marked by `token`; throws what failed. The caller (writer.worker.ts)
   * retries an unreachable database, asking committed(token) first, and splits a group that failed for another
   * reason, each op under a token of its own: retries and tokens live in one place, so no op is sent twice.
   */
  async commit(ops: WriteOp[], token: string): Promise<OpResult[]> {
    if (ops.length === 0) return [];
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

  /**
   * Refreshes the heartbeat of the running runs this process writes (see liveness.ts), and forgets the commit
   * tokens older than COMMIT_TOKENS_MS (a token is looked up only while its group is retried). Never throws.
   */
  async heartbeat(): Promise<void> {
    try {
      const now = Date.now();
      await this.pool.query(
        "UPDATE gradscope.runs SET heartbeat_at = $1 WHERE writer = $2 AND status = 'running'",
        [now, this.writer],
      );
      await this.pool.query('DELETE FROM gradscope.commits WHERE at < $1', [now - COMMIT_TOKENS_MS]);
    } catch {
      // Unreachable: the next beat tries again; a reader needs one beat per STALE_AFTER_MS.
    }
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

  /** VACUUM FULL of the store's tables (see maintenance.ts). */
  vacuum(): Promise<void> {
    return vacuum(this);
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
