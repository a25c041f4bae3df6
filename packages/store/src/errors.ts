// One error class for everything the store reports, with a code to branch on and the file it is about.

export type StoreErrorCode =
  /** The path argument is not usable (not a string, empty, a directory, parent missing). */
  | 'EPATH'
  /** The database file does not exist (readers never create one). */
  | 'ENOENT'
  /** The file is not an SQLite database, or an SQLite database that gradscope did not create. */
  | 'ENOTDB'
  /** The database was written by a newer gradscope (higher schema version). */
  | 'ENEWER'
  /** The database has an older schema and must be opened for writing once to migrate it. */
  | 'EOLDER'
  /** The file or its directory cannot be written. */
  | 'EREADONLY'
  /** SQLite reported SQLITE_FULL: the disk (or max_page_count) is exhausted. */
  | 'EFULL'
  /** A stored payload or the database itself is damaged. */
  | 'ECORRUPT'
  /** The database stayed locked by another process longer than the busy timeout allows. */
  | 'EBUSY'
  /** A run, snapshot or group asked for does not exist. */
  | 'ENOTFOUND'
  /** An argument or a snapshot is malformed. */
  | 'EINVAL'
  /** The store or reader was closed. */
  | 'ECLOSED'
  /** The writer worker died. */
  | 'EWORKER'
  /** A database server (PostgreSQL) could not be reached, for longer than the store retries. */
  | 'EUNAVAILABLE'
  /** Any other I/O or SQLite failure. */
  | 'EIO';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  /** The database (or export) file the error is about, when there is one. */
  readonly file: string | undefined;

  constructor(code: StoreErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }
}

/** A plain object that survives postMessage. */
export interface SerializedError {
  code: StoreErrorCode;
  message: string;
  file?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof StoreError) {
    return { code: err.code, message: err.message, ...(err.file !== undefined ? { file: err.file } : {}) };
  }
  return { code: 'EIO', message: err instanceof Error ? err.message : String(err) };
}

export function deserializeError(e: SerializedError): StoreError {
  return new StoreError(e.code, e.message, e.file !== undefined ? { file: e.file } : {});
}

interface SqliteLikeError {
  code?: unknown;
  message?: unknown;
}

/** The SQLite result code name (e.g. 'SQLITE_FULL', 'SQLITE_BUSY_SNAPSHOT') of a better-sqlite3 error, or undefined. */
export function sqliteCode(err: unknown): string | undefined {
  const code = (err as SqliteLikeError | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

export function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Turns a better-sqlite3 error into a StoreError whose message names the file, what was being done and
 * SQLite's own words (e.g. "database or disk is full").
 */
export function fromSqlite(err: unknown, file: string, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = sqliteCode(err) ?? '';
  const text = err instanceof Error ? err.message : String(err);
  // Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_WRITE, …) share their primary code's first two words.
  const base = code.split('_').slice(0, 2).join('_');
  let kind: StoreErrorCode = 'EIO';
  let hint = '';
  switch (base) {
    case 'SQLITE_FULL':
      kind = 'EFULL';
      hint = ' (free disk space; what was stored before stays readable)';
      break;
    case 'SQLITE_READONLY':
      kind = 'EREADONLY';
      hint = ' (the file or its directory is read-only)';
      break;
    case 'SQLITE_NOTADB':
      kind = 'ENOTDB';
      break;
    case 'SQLITE_CORRUPT':
      kind = 'ECORRUPT';
      break;
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      kind = 'EBUSY';
      hint = ' (another process held the database lock longer than the busy timeout)';
      break;
    case 'SQLITE_CANTOPEN':
      kind = 'EPATH';
      break;
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      kind = 'EREADONLY';
      break;
  }
  return new StoreError(kind, `${file}: ${doing} failed: ${text}${hint}`, { file, cause: err });
}

/** What a not-found error is about. */
export interface NotFoundSubject {
  what: 'run' | 'snapshot' | 'series';
  run?: string;
  layer?: string;
  kind?: string;
  part?: string | null;
  id?: number;
}

/**
 * ENOTFOUND with what was asked for, raised by the reader for every lookup (requireRun, a snapshot id, a
 * series): routes answer 404 with its message, the CLI prints it.
 */
export class NotFoundError extends StoreError {
  readonly subject: NotFoundSubject;

  constructor(subject: NotFoundSubject, message: string, file: string) {
    super('ENOTFOUND', `${file}: ${message}`, { file });
    this.subject = subject;
  }

  static run(run: string, file: string): NotFoundError {
    return new NotFoundError({ what: 'run', run }, `no run with id or name ${JSON.stringify(run)}`, file);
  }

  static snapshot(id: number, file: string): NotFoundError {
    return new NotFoundError({ what: 'snapshot', id }, `no snapshot with id ${id}`, file);
  }
}
