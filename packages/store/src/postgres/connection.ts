// What every part of the PostgreSQL provider shares: telling a URL from a path, the URL shown in messages
// (never its password), the pool (int8 as numbers), and PostgreSQL's errors as StoreErrors.
import type pg from 'pg';
import { StoreError, type StoreErrorCode } from '../errors.js';
import { pgModule } from './modules.js';

/** A `postgres://` or `postgresql://` connection string: the store on a PostgreSQL server. */
export type PostgresUrl = `postgres://${string}` | `postgresql://${string}`;

/** Whether a store argument names a PostgreSQL database rather than a file. */
export function isPostgresUrl(target: unknown): target is PostgresUrl {
  return typeof target === 'string' && /^postgres(ql)?:\/\//i.test(target);
}

/** The URL as messages show it: without its password (and without any query string, which may hold one). */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://(a malformed URL)';
  }
}

/**
 * int8 (count(*), bigint ids) as JavaScript numbers: every id and count of a store stays below 2^53. The
 * rest is pg's own parsing (float8 'NaN' and 'Infinity' included).
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 && format !== 'binary') return Number;
    return pgModule().types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/** Pool options the provider sets; the connection string (and the standard PG* variables) give the rest. */
export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /** The application_name the server shows in pg_stat_activity. */
  applicationName?: string;
}

/** A pool on `url`. TLS (`sslmode=` in the URL), user, password and host follow libpq's rules and PG* variables. */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new (pgModule().Pool)({
    connectionString: url,
    max: options.max ?? 10,
    types,
    application_name: options.applicationName ?? 'gradscope',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // Idle connections do not keep a process (a CLI command) alive.
    allowExitOnIdle: true,
  });
  // An idle connection dropped by the server (a restart) must not crash the process: the next query
  // takes a new one.
  pool.on('error', () => {});
  return pool;
}

/** SQLSTATE classes and socket errors that mean the database is not reachable now (worth retrying). */
export function isUnavailable(err: unknown): boolean {
  // The store's own refusals are never an outage, though a not-found one shares DNS's code, ENOTFOUND.
  if (err instanceof StoreError) return false;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(
      code,
    )
  )
    return true;
  // 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
  if (/^08|^57P0[123]$|^53300$/.test(code)) return true;
  const text = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|Connection ended/i.test(
    text,
  );
}

/**
 * A PostgreSQL (or socket) error as a StoreError naming the database (without its password), what was being
 * done and the server's own words: EUNAVAILABLE when it cannot be reached, EFULL for a full disk, EREADONLY
 * for a read-only transaction or a missing privilege, EIO otherwise.
 */
export function fromPg(err: unknown, url: string, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const where = shownUrl(url);
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const text = err instanceof Error ? err.message : String(err);
  let kind: StoreErrorCode = 'EIO';
  let hint = '';
  if (isUnavailable(err)) {
    kind = 'EUNAVAILABLE';
    hint = ' (the database server is unreachable or restarting)';
  } else if (code === '53100') {
    kind = 'EFULL';
    hint = " (the database server's disk is full)";
  } else if (code === '25006' || code === '42501') {
    kind = 'EREADONLY';
  } else if (code === '28P01' || code === '28000') {
    kind = 'EPATH';
    hint = ' (check the user and password: the URL, PGUSER/PGPASSWORD or ~/.pgpass)';
  } else if (code === '3D000') {
    kind = 'ENOENT';
    hint = ' (create the database first: createdb, or CREATE DATABASE)';
  }
  return new StoreError(kind, `${where}: ${doing} failed: ${text}${hint}`, { file: where, cause: err });
}
