// What every query module of the PostgreSQL reader shares (as read/context.ts does the SQLite reader's): the
// pool, the schema check before the first query, errors naming the URL, and the lookup of a run's key.
import type pg from 'pg';
import { NotFoundError, StoreError } from '../errors.js';
import { createPool, fromPg, shownUrl } from './connection.js';
import { checkSchema } from './schema.js';

/** The key of run $1 by id, or by name (the most recently started run of that name): at most one row. */
export const RUN_KEY = `(SELECT key FROM gradscope.runs WHERE id = $1)
  UNION ALL (SELECT key FROM gradscope.runs WHERE name = $1 ORDER BY started_at DESC, key DESC LIMIT 1)
  LIMIT 1`;

export class PgReadContext {
  /** The URL without its password, for messages. */
  readonly path: string;
  readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;
  closed = false;

  constructor(
    readonly url: string,
    /** A 'running' run whose writer's heartbeat is older than this is 'interrupted', ms. */
    readonly staleAfterMs: number,
    maxConnections: number,
  ) {
    this.path = shownUrl(url);
    this.pool = createPool(url, { max: maxConnections, applicationName: 'gradscope reader' });
  }

  /** Runs `fn` once the schema is known to be readable; PostgreSQL's errors become StoreErrors naming the URL. */
  async q<T>(doing: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
    if (this.closed)
      throw new StoreError('ECLOSED', `${this.path}: the reader is closed`, { file: this.path });
    if (!this.ready) {
      this.ready = checkSchema(this.pool, this.url);
      // A failed check (the server down) is tried again by the next query.
      this.ready.catch(() => (this.ready = undefined));
    }
    await this.ready;
    try {
      return await fn(this.pool);
    } catch (err) {
      throw fromPg(err, this.url, doing);
    }
  }

  /** The key of a run by id, or by name (the most recently started run of that name); NotFoundError. */
  async runKey(run: string): Promise<number> {
    const key = await this.q('finding a run', async (p) => {
      const { rows } = await p.query({ name: 'gs_run_key', text: RUN_KEY, values: [run] });
      return rows[0]?.key as number | undefined;
    });
    if (key === undefined) throw NotFoundError.run(run, this.path);
    return key;
  }
}
