// What every query module of the reader shares: the connection, its prepared statements, the busy retry
// and the lookup of a run's key. One per Reader.

import type { Statement } from 'better-sqlite3';
import { NotFoundError, StoreError } from '../errors.js';
import { type Db, withBusyRetry } from '../sqlite.js';

export class ReadContext {
  private readonly stmts = new Map<string, Statement>();
  closed = false;

  constructor(
    readonly db: Db,
    /** Absolute path of the database file. */
    readonly path: string,
    readonly busyTimeoutMs: number,
    /** A 'running' run whose writer's heartbeat is older than this is 'interrupted', ms. */
    readonly staleAfterMs: number,
  ) {}

  /** A prepared statement, prepared once per reader. */
  stmt(sql: string): Statement {
    this.checkOpen();
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  checkOpen(): void {
    if (this.closed)
      throw new StoreError('ECLOSED', `${this.path}: the reader is closed`, { file: this.path });
  }

  /** Runs a query, retrying on a transient lock and naming the file in any error. */
  q<T>(doing: string, fn: () => T): T {
    return withBusyRetry(fn, this.path, doing, this.busyTimeoutMs);
  }

  /** The key of a run by id, or by name (the most recently started run of that name); NotFoundError. */
  runKey(run: string): number {
    const key = this.q(
      'finding a run',
      () =>
        (this.stmt('SELECT key FROM runs WHERE id = ?').pluck().get(run) as number | undefined) ??
        (this.stmt('SELECT key FROM runs WHERE name = ? ORDER BY started_at DESC, key DESC LIMIT 1')
          .pluck()
          .get(run) as number | undefined),
    );
    if (key === undefined) throw NotFoundError.run(run, this.path);
    return key;
  }

  close(): void {
    this.closed = true;
    this.stmts.clear();
  }
}
