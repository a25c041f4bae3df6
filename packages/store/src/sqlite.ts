// The SQLite file: schema, migrations, identity checks and opening for writing or reading.
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { fromSqlite, isBusy, StoreError } from './errors.js';
import { migrate } from './migrations.js';
import { APPLICATION_ID, createSchema, type Db, READABLE_FROM, SCHEMA_VERSION } from './schema.js';
import { checkDbPath } from './validate.js';

export type { Db } from './schema.js';
export { APPLICATION_ID, SCHEMA_VERSION } from './schema.js';

/** Page size of new databases: large pages keep multi-megabyte payloads in few overflow pages. */
export const PAGE_SIZE = 32768;
/**
 * The journal of gradscope files: SQLite's rollback journal, truncated after each commit, not WAL. The store
 * mostly appends, and a rollback-journal commit writes the pages it appends once, into the file (only pages
 * that existed before it go to the journal), where WAL writes every byte twice: into the log, then into the
 * file at the checkpoint (about half the bytes written, and a faster bare INSERT loop: the store README's
 * Performance, docs/benchmarks.md). What it costs: readers wait while a commit
 * writes its pages (milliseconds; busy_timeout covers it), and the writer waits for reads in progress to
 * finish before it writes. A file another connection holds open in WAL mode (written by an older gradscope)
 * stays in WAL until a writer opens it alone.
 */
export const JOURNAL_MODE = 'truncate';
export const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/**
 * The writer connection's page cache: much smaller than a commit group (up to 32 MiB of payloads), so that
 * SQLite spills pages into the file while it builds the group and the writeback thread can have the disk
 * write them before the commit (writeback.ts). Of 1, 2 and 8 MiB, 2 was the fastest.
 */
export const WRITER_CACHE_BYTES = 2 * 2 ** 20;

const SQLITE_MAGIC = 'SQLite format 3\0';

/** Blocks the thread for `ms` (used between retries on a locked database). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `fn`, retrying while SQLite reports the database busy or locked (beyond busy_timeout, e.g. a lock
 * upgrade that SQLite refuses to wait for), with jittered backoff until `timeoutMs` has passed.
 */
export function withBusyRetry<T>(
  fn: () => T,
  file: string,
  doing: string,
  timeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
): T {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  let recovered = false;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!recovered && (err as { code?: unknown }).code === 'SQLITE_READONLY_ROLLBACK') {
        rollBackHotJournal(file, timeoutMs);
        recovered = true;
        continue;
      }
      if (!isBusy(err) || Date.now() >= deadline) throw fromSqlite(err, file, doing);
      sleepSync(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  }
}

/**
 * A writer killed in the middle of a commit leaves a hot journal, which the next connection rolls back; a
 * read-only connection cannot (SQLITE_READONLY_ROLLBACK), so a reader opens the file for writing once to let
 * SQLite do it, then carries on read-only.
 */
function rollBackHotJournal(file: string, timeoutMs: number): void {
  try {
    const db = new Database(file, { fileMustExist: true, timeout: timeoutMs });
    try {
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
    } finally {
      db.close();
    }
  } catch (err) {
    throw new StoreError(
      'EREADONLY',
      `${file}: a writer stopped in the middle of a commit and left ${file}-journal; rolling it back needs write access to the file and its directory, which this process lacks (${(err as Error).message}): open the file once for writing, e.g. gradscope vacuum ${file}`,
      { file },
    );
  }
}

/** Rejects files that are not SQLite before SQLite gets to touch them. */
function checkHeader(file: string): void {
  const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size === 0) return;
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(16);
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100 || head.toString('latin1') !== SQLITE_MAGIC) {
    const printable = head.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    throw new StoreError(
      'ENOTDB',
      `${file} is not a gradscope database: not an SQLite file (it starts with "${printable}")`,
      { file },
    );
  }
}

function checkWritable(file: string): void {
  const exists = statSync(file, { throwIfNoEntry: false }) !== undefined;
  const dir = dirname(file);
  const canWrite = (p: string) => {
    try {
      accessSync(p, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (exists && !canWrite(file)) {
    throw new StoreError('EREADONLY', `${file}: cannot write: the file is read-only`, { file });
  }
  if (!canWrite(dir)) {
    throw new StoreError(
      'EREADONLY',
      `${file}: cannot write: directory ${dir} is read-only (SQLite creates the database there, and its -journal at each commit)`,
      { file },
    );
  }
}

interface Identity {
  applicationId: number;
  version: number;
  tables: string[];
}

function identity(db: Db): Identity {
  return {
    applicationId: db.pragma('application_id', { simple: true }) as number,
    version: db.pragma('user_version', { simple: true }) as number,
    tables: db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .pluck()
      .all() as string[],
  };
}

function isFresh(id: Identity): boolean {
  return id.applicationId === 0 && id.version === 0 && id.tables.length === 0;
}

/** Throws ENOTDB / ENEWER unless the database is a gradscope database this code can read (or a fresh file). */
function checkIdentity(id: Identity, file: string, allowFresh: boolean): void {
  if (isFresh(id)) {
    if (allowFresh) return;
    throw new StoreError('ENOTDB', `${file} is not a gradscope database: it is an empty SQLite database`, {
      file,
    });
  }
  if (id.applicationId !== APPLICATION_ID) {
    const tables = id.tables.length > 0 ? id.tables.slice(0, 5).join(', ') : 'none';
    throw new StoreError(
      'ENOTDB',
      `${file} is not a gradscope database: SQLite application_id is 0x${(id.applicationId >>> 0).toString(16)} (gradscope writes 0x${APPLICATION_ID.toString(16)}), tables: ${tables}`,
      { file },
    );
  }
  if (id.version > SCHEMA_VERSION) {
    throw new StoreError(
      'ENEWER',
      `${file} was written by a newer gradscope: schema version ${id.version}, this version reads up to ${SCHEMA_VERSION}; upgrade gradscope to open it`,
      { file },
    );
  }
}

export interface WriterDbOptions {
  busyTimeoutMs?: number;
  synchronous?: 'normal' | 'full';
  /** Simulates a full disk: SQLite's max_page_count for this connection. */
  maxPageCount?: number | undefined;
}

/**
 * Puts the file in JOURNAL_MODE. Leaving WAL (files written by an earlier gradscope) needs the file to itself: while
 * another connection holds it open, the file stays in WAL for this writer, which works the same, slower.
 */
function useRollbackJournal(db: Db, file: string, timeout: number): void {
  db.pragma('busy_timeout = 0');
  let mode: unknown;
  try {
    mode = db.pragma(`journal_mode = ${JOURNAL_MODE}`, { simple: true });
  } catch (err) {
    if (!isBusy(err)) throw err;
    mode = db.pragma('journal_mode', { simple: true });
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
  if (mode !== JOURNAL_MODE && mode !== 'wal') {
    throw new StoreError(
      'EIO',
      `${file}: could not set the journal mode to ${JOURNAL_MODE} (SQLite answered ${String(mode)})`,
      { file },
    );
  }
}

/** Opens (creating if needed) a gradscope database for writing, migrating it to SCHEMA_VERSION. */
export function openWriterDb(path: unknown, options: WriterDbOptions = {}): { db: Db; file: string } {
  const file = checkDbPath(path, false);
  checkHeader(file);
  checkWritable(file);
  const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Db;
  try {
    db = new Database(file, { timeout });
  } catch (err) {
    throw fromSqlite(err, file, 'opening the database');
  }
  try {
    const id = withBusyRetry(() => identity(db), file, 'reading the database header', timeout);
    checkIdentity(id, file, true);
    withBusyRetry(
      () => {
        if ((db.pragma('page_count', { simple: true }) as number) === 0)
          db.pragma(`page_size = ${PAGE_SIZE}`);
      },
      file,
      'setting the page size',
      timeout,
    );
    useRollbackJournal(db, file, timeout);
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`cache_size = -${WRITER_CACHE_BYTES / 1024}`);
    if (options.maxPageCount != null) db.pragma(`max_page_count = ${options.maxPageCount}`);
    const upgrade = db.transaction(() => {
      const now = identity(db);
      checkIdentity(now, file, true);
      if (now.applicationId !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
      if (now.version === 0) createSchema(db);
      else migrate(db, now.version);
      if (now.version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    });
    withBusyRetry(() => upgrade.immediate(), file, 'creating the schema', timeout);
  } catch (err) {
    db.close();
    throw fromSqlite(err, file, 'opening the database');
  }
  return { db, file };
}

export interface ReaderDbOptions {
  busyTimeoutMs?: number;
  /** Bytes of the file SQLite may memory-map (default 1 GiB). */
  mmapBytes?: number;
  /** Bytes of SQLite's page cache (default 64 MiB). */
  pageCacheBytes?: number;
}

/** Opens an existing gradscope database read-only. */
export function openReaderDb(path: unknown, options: ReaderDbOptions = {}): { db: Db; file: string } {
  const file = checkDbPath(path, true);
  if (statSync(file).size === 0) {
    throw new StoreError('ENOTDB', `${file} is not a gradscope database: the file is empty`, { file });
  }
  checkHeader(file);
  const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout });
  } catch (err) {
    throw fromSqlite(err, file, 'opening the database');
  }
  try {
    const id = withBusyRetry(() => identity(db), file, 'reading the database header', timeout);
    checkIdentity(id, file, false);
    if (id.version < READABLE_FROM) {
      throw new StoreError(
        'EOLDER',
        `${file} has schema version ${id.version}, older than ${READABLE_FROM} (written by an older gradscope): ` +
          `migrate it once by opening it for writing: run \`gradscope vacuum ${file}\` (or openStore('${file}') in code), then open it again`,
        { file },
      );
    }
    db.pragma(`cache_size = -${Math.ceil((options.pageCacheBytes ?? 64 * 2 ** 20) / 1024)}`);
    db.pragma(`mmap_size = ${options.mmapBytes ?? 2 ** 30}`);
  } catch (err) {
    db.close();
    throw fromSqlite(err, file, 'opening the database');
  }
  return { db, file };
}
