// The synchronous write side over one better-sqlite3 connection: runs, snapshots (metadata, Arrow payload,
// summaries), scalars, run management and group commits. The writer worker drives it; the bench and tests
// may use it directly.
import type { Statement, Transaction } from 'better-sqlite3';
import { ChunkAppender, type ChunkEntry } from './chunks.js';
import { snapshotValues, statValues } from './columns.js';
import { fromSqlite, isBusy, StoreError } from './errors.js';
import { writerIdentity } from './liveness.js';
import { checkpoint, compact, removeJournal, vacuum } from './maintenance.js';
import {
  type EncodedSnapshot,
  mergedMeta,
  type OpResult,
  opLabel,
  taggedRun,
  type WriteOp,
} from './operations.js';

export type { OpResult } from './operations.js';

import type { CompactPolicy, CompactResult } from './provider.js';
import { type Db, DEFAULT_BUSY_TIMEOUT_MS, withBusyRetry } from './sqlite.js';
import { type WriterStatements, writerStatements } from './writer-sql.js';

export class SnapshotWriter {
  private readonly runKeys = new Map<string, number>();
  private readonly seriesKeys = new Map<string, number>();
  private readonly stmt: WriterStatements;
  private readonly chunks: ChunkAppender;
  private readonly group: Transaction<(ops: WriteOp[]) => (number | undefined)[]>;
  /** PRAGMA data_version when this connection last committed (it changes when another one does). */
  private dataVersion = -1;
  /** 'host pid start' of this process, recorded on the runs it writes. */
  readonly writer = writerIdentity();

  constructor(
    readonly db: Db,
    readonly file: string,
    private readonly busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
  ) {
    this.stmt = writerStatements(db);
    this.chunks = new ChunkAppender(db);
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.group = db.transaction((ops: WriteOp[]) => {
      // Another connection committed since this one last looked: its rows may have changed the chunks.
      const version = dataVersion.get() as number;
      if (version !== this.dataVersion) {
        this.chunks.reset();
        this.dataVersion = version;
      }
      const ids = ops.map((op) => this.apply(op));
      this.chunks.flush();
      return ids;
    });
  }

  private runKey(runId: string, time: number): number {
    let key = this.runKeys.get(runId);
    if (key !== undefined) return key;
    const now = Date.now();
    key = this.stmt.runKey.get(runId) as number | undefined;
    if (key === undefined) {
      // Data for a run that was never started: record the run with what is known.
      this.stmt.implicitRun.run(runId, runId, time, this.writer, now);
      key = this.stmt.runKey.get(runId) as number;
    } else {
      this.stmt.claimRun.run(this.writer, now, key);
    }
    this.runKeys.set(runId, key);
    return key;
  }

  /** The key of a run by id, or by name (the most recently started run of that name). */
  private findRun(run: string, doing: string): number {
    const key = this.stmt.findRun.get({ run }) as number | undefined;
    if (key === undefined) {
      throw new StoreError(
        'ENOTFOUND',
        `${this.file}: cannot ${doing}: no run with id or name ${JSON.stringify(run)}`,
        {
          file: this.file,
        },
      );
    }
    return key;
  }

  private seriesKey(runKey: number, layer: string, kind: string, part: string): number {
    const k = `${runKey}\u0000${layer}\u0000${kind}\u0000${part}`;
    let key = this.seriesKeys.get(k);
    if (key === undefined) {
      this.stmt.series.run(runKey, layer, kind, part);
      key = this.stmt.seriesKey.get(runKey, layer, kind, part) as number;
      this.seriesKeys.set(k, key);
    }
    return key;
  }

  private apply(op: WriteOp): number | undefined {
    switch (op.type) {
      case 'startRun': {
        const r = op.run;
        this.stmt.upsertRun.run({
          id: r.id,
          name: r.name,
          startedAt: r.startedAt,
          model: JSON.stringify(r.model ?? {}),
          options: JSON.stringify(r.options ?? {}),
          backend: String(r.backend ?? ''),
          tfjsVersion: String(r.tfjsVersion ?? ''),
          host: String(r.host ?? ''),
          meta: JSON.stringify(r.meta ?? {}),
          group: r.group ?? null,
          params: JSON.stringify(r.params ?? {}),
          writer: this.writer,
          now: Date.now(),
        });
        this.runKeys.set(r.id, this.stmt.runKey.get(r.id) as number);
        return undefined;
      }
      case 'endRun': {
        const changed = this.stmt.endRun.run(op.status, op.endedAt ?? Date.now(), op.runId).changes;
        if (changed === 0)
          throw new StoreError('ENOTFOUND', `${this.file}: cannot end run ${op.runId}: no such run`, {
            file: this.file,
          });
        return undefined;
      }
      case 'scalars': {
        const runKey = this.runKey(op.runId, op.points[0]?.time ?? Date.now());
        for (const p of op.points) this.stmt.scalar.run(runKey, p.iteration, p.name, p.value, p.time);
        return undefined;
      }
      case 'renameRun':
        this.stmt.rename.run(op.name, this.findRun(op.run, `rename run ${JSON.stringify(op.run)}`));
        return undefined;
      case 'updateRunMeta': {
        // Only `meta` changes: the status, end time, model and writer of the run stay as they are.
        const key = this.findRun(op.run, `update the metadata of run ${JSON.stringify(op.run)}`);
        this.stmt.setMeta.run(mergedMeta(this.stmt.getMeta.get(key) as string | undefined, op.meta), key);
        return undefined;
      }
      case 'tagRun': {
        // Only the group and params change, as for updateRunMeta.
        const key = this.findRun(op.run, `tag run ${JSON.stringify(op.run)}`);
        const { group, params } = taggedRun(
          this.stmt.getTag.get(key) as { group: string | null; params: string },
          op.tag,
        );
        this.stmt.setTag.run(group, params, key);
        return undefined;
      }
      case 'deleteRun':
        this.deleteRunKey(this.findRun(op.run, `delete run ${JSON.stringify(op.run)}`));
        return undefined;
      case 'write':
        return this.insertSnapshot(op.snapshot);
    }
  }

  private insertSnapshot(snapshot: EncodedSnapshot): number {
    const { meta, ipc, summaries } = snapshot;
    if (!Array.isArray(summaries))
      throw new StoreError('EINVAL', `${this.file}: ${snapshot.label} is not summarized`);
    const whole = summaries[0]!;
    const runKey = this.runKey(meta.run, meta.time);
    const id = Number(this.stmt.snapshot.run(runKey, ...snapshotValues(snapshot, whole)).lastInsertRowid);
    // better-sqlite3 binds any typed array as a BLOB of its bytes: no Buffer wrappers.
    this.stmt.payload.run(id, ipc);
    const series = this.seriesKey(runKey, meta.layer, meta.kind, meta.part ?? '');
    const entries: ChunkEntry[] = [];
    for (const s of summaries) {
      this.stmt.summary.run(
        id,
        s.channelPart,
        s.timestepNorms,
        s.channelNorms,
        s.histogram,
        ...statValues(s),
      );
      entries.push({
        part: s.channelPart,
        id,
        iteration: meta.iteration,
        loss: meta.loss,
        time: meta.time,
        norms: s.timestepNorms,
        histogram: s.histogram,
        min: s.min,
        max: s.max,
        stats: s,
      });
    }
    this.chunks.appendSnapshot(series, entries);
    return id;
  }

  /** Deletes a run and everything recorded for it (call inside a transaction). */
  private deleteRunKey(key: number): void {
    this.chunks.flush(); // rows of this group's earlier snapshots go first, so that they are deleted too
    const snapshots = 'SELECT id FROM snapshots WHERE run_key = ?';
    const series = 'SELECT key FROM series WHERE run_key = ?';
    for (const sql of [
      `DELETE FROM summaries WHERE snapshot_id IN (${snapshots})`,
      `DELETE FROM payloads WHERE snapshot_id IN (${snapshots})`,
      'DELETE FROM snapshots WHERE run_key = ?',
      `DELETE FROM series_chunks WHERE series_key IN (${series})`,
      'DELETE FROM series WHERE run_key = ?',
      'DELETE FROM scalars WHERE run_key = ?',
      'DELETE FROM runs WHERE key = ?',
    ]) {
      this.prepared(sql).run(key);
    }
    this.chunks.reset();
    this.runKeys.clear();
    this.seriesKeys.clear();
  }

  private readonly cache = new Map<string, Statement>();
  private prepared(sql: string): Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /**
   * Commits `ops` in one transaction (retrying while another process holds the lock). When the group
   * fails, each op is retried in its own transaction so that one bad op (e.g. a snapshot that does not
   * fit on the disk) fails alone. Never throws: every op gets a result.
   */
  commit(ops: WriteOp[]): OpResult[] {
    if (ops.length === 0) return [];
    try {
      const ids = withBusyRetry(
        () => {
          try {
            return this.group.immediate(ops);
          } catch (err) {
            this.chunks.discard();
            throw err;
          }
        },
        this.file,
        opLabel(ops[0]!),
        this.busyTimeoutMs,
      );
      return ids.map((id) => (id === undefined ? { ok: true } : { ok: true, id }));
    } catch (err) {
      this.runKeys.clear();
      this.seriesKeys.clear();
      if (ops.length === 1 || isBusy(err) || (err instanceof StoreError && err.code === 'EBUSY')) {
        const error =
          err instanceof StoreError && err.file ? err : fromSqlite(err, this.file, opLabel(ops[0]!));
        if (ops.length === 1) return [{ ok: false, error }];
        return ops.map(() => ({ ok: false, error }));
      }
      return ops.flatMap((op) => this.commit([op]));
    }
  }

  /** Refreshes the heartbeat of the running runs this process writes (see liveness.ts). Never throws. */
  heartbeat(): void {
    // Never wait for another process's lock here: that would hold up this thread's commits.
    this.db.pragma('busy_timeout = 0');
    try {
      this.stmt.heartbeat.run(Date.now(), this.writer);
    } catch {
      // Busy or full: the next beat tries again; a reader needs one beat per STALE_AFTER_MS.
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
  }

  /** Applies a retention policy (maintenance.ts); the chunk and series caches are dropped after it. */
  compact(policy: CompactPolicy, size: () => number): CompactResult {
    return compact(
      this.db,
      this.file,
      this.busyTimeoutMs,
      policy,
      size,
      (run, doing) => this.findRun(run, doing),
      () => {
        this.chunks.reset();
        this.seriesKeys.clear();
      },
    );
  }

  vacuum(): void {
    vacuum(this.db, this.file, this.busyTimeoutMs);
  }

  /**
   * Closes the connection after finishing the runs this writer created from snapshots alone (and, in WAL
   * mode, checkpointing the WAL into the main file).
   */
  close(): void {
    try {
      withBusyRetry(
        () => this.stmt.finishImplicit.run(Date.now(), this.writer),
        this.file,
        'finishing runs',
        this.busyTimeoutMs,
      );
      // Best effort: another process still writing keeps the WAL, and its own close checkpoints it.
      checkpoint(this.db, this.file, this.busyTimeoutMs, false);
      removeJournal(this.db);
      this.db.close();
    } catch (err) {
      try {
        this.db.close();
      } catch {
        // already reported
      }
      throw fromSqlite(err, this.file, 'closing the database');
    }
  }
}
