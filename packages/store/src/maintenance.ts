// Changing a whole file: the intactness check before any change (checkIntact, checkFile), retention
// (compact), VACUUM, the WAL checkpoint of files an older gradscope left in WAL mode, and the removal of
// the empty rollback journal at close. The writer thread runs these on its connection.
import Database from 'better-sqlite3';
import { rebuildSeriesChunks } from './chunks.js';
import { fromSqlite, isBusy, StoreError } from './errors.js';
import type { CompactPolicy, CompactResult } from './provider.js';
import { createSchema } from './schema.js';
import { type Db, JOURNAL_MODE, openReaderDb, sleepSync, withBusyRetry } from './sqlite.js';

/** PRAGMA auto_vacuum of a file that compact() has shrunk once (see compact). */
const INCREMENTAL_VACUUM = 2;

/** "table runs", "index scalars_series", …: the schema objects of a current file, built once in memory. */
let schemaObjects: string[] | undefined;

function objectsOf(db: Db): string[] {
  return db
    .prepare("SELECT type || ' ' || name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY 1")
    .pluck()
    .all() as string[];
}

function currentSchemaObjects(): string[] {
  if (schemaObjects === undefined) {
    const mem = new Database(':memory:');
    try {
      createSchema(mem);
      schemaObjects = objectsOf(mem);
    } finally {
      mem.close();
    }
  }
  return schemaObjects;
}

/**
 * Checks, before a command changes the file, that it is whole: SQLite's quick_check (every page of every
 * b-tree read and its structure checked; indexes are not compared with their tables) finds nothing, and
 * every table and index of the current schema is there. Throws ECORRUPT, one line naming the file, the
 * first problem and what was refused; the file is not changed. It reads the whole file (about as long as
 * reading every payload once).
 */
export function checkIntact(db: Db, file: string, doing: string): void {
  checkPages(db, file, doing);
  const present = new Set(objectsOf(db));
  const missing = currentSchemaObjects().filter((o) => !present.has(o));
  if (missing.length > 0) throw damaged(file, doing, `missing ${missing.join(', ')}`);
}

function damaged(file: string, doing: string, problem: string): StoreError {
  return new StoreError(
    'ECORRUPT',
    `${file}: the file is damaged (${problem}); ${doing} refused, nothing was changed`,
    { file },
  );
}

/** The quick_check half of checkIntact. */
function checkPages(db: Db, file: string, doing: string): void {
  let first: unknown;
  try {
    first = withBusyRetry(() => db.pragma('quick_check(1)', { simple: true }), file, 'checking the file');
  } catch (err) {
    const cause = (err as StoreError).cause;
    throw damaged(file, doing, `SQLite: ${cause instanceof Error ? cause.message : (err as Error).message}`);
  }
  if (first !== 'ok') {
    const text = String(first)
      .replace(/\*\*\* in database \w+ \*\*\*/, '')
      .replace(/\s+/g, ' ')
      .trim();
    throw damaged(file, doing, `SQLite quick_check: ${text}`);
  }
}

/**
 * Checks an existing gradscope file before a management command changes it (see checkIntact): throws a
 * StoreError naming the file when it is missing, not a gradscope database or damaged (ECORRUPT), and EOLDER
 * for a whole file of an older schema (open it for writing to migrate it, then check it again).
 */
export function checkFile(path: string, doing = 'changing it'): void {
  let opened: { db: Db; file: string };
  try {
    opened = openReaderDb(path);
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'EOLDER' && err.file !== undefined)) throw err;
    // A whole file of an older schema is EOLDER (a writer migrates it); a damaged one is ECORRUPT.
    const old = new Database(err.file, { readonly: true, fileMustExist: true });
    try {
      checkPages(old, err.file, doing);
    } finally {
      old.close();
    }
    throw err;
  }
  const { db, file } = opened;
  try {
    checkIntact(db, file, doing);
  } finally {
    db.close();
  }
}

/**
 * Applies a retention policy (see CompactPolicy): all or nothing. A damaged file is refused before anything
 * changes (checkIntact). The snapshots go, the series chunks of the compacted runs are rebuilt and the file
 * shrinks (SQLite's incremental vacuum moves the last pages into the freed ones and truncates the file) in
 * one transaction, so a compaction that fails leaves every row as it was. A file not yet in incremental
 * auto-vacuum (every file before its first compaction) is switched by one VACUUM first, which rewrites the
 * file with the same content.
 */
export function compact(
  db: Db,
  file: string,
  busyTimeoutMs: number,
  policy: CompactPolicy,
  size: () => number,
  findRun: (run: string, doing: string) => number,
  /** Called after a run's chunks are rebuilt: the writer's caches of chunks and series keys are stale. */
  rebuilt: () => void,
): CompactResult {
  // In WAL mode, measured with the WAL folded in, so that before and after compare the same thing.
  checkpoint(db, file, busyTimeoutMs);
  const bytesBefore = size();
  checkIntact(db, file, 'compacting');
  const incremental = () => db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL_VACUUM;
  if (!incremental()) {
    db.pragma('auto_vacuum = INCREMENTAL');
    vacuumOnly(db, file, busyTimeoutMs);
  }
  let removed = 0;
  let kept = 0;
  let runs = 0;
  const tx = db.transaction(() => {
    const keys = policy.runs
      ? policy.runs.map((r) => findRun(r, `compact run ${JSON.stringify(r)}`))
      : (db.prepare('SELECT key FROM runs ORDER BY key').pluck().all() as number[]);
    const keepFirst = policy.keepFirst ?? 0;
    const chosen = new Set(policy.keep ?? []);
    for (const key of keys) {
      runs++;
      const its = db
        .prepare('SELECT DISTINCT iteration FROM snapshots WHERE run_key = ? ORDER BY iteration')
        .pluck()
        .all(key) as number[];
      const drop = its.filter(
        (it, i) =>
          i >= keepFirst && (i - keepFirst) % policy.every !== 0 && i !== its.length - 1 && !chosen.has(it),
      );
      if (drop.length === 0) {
        kept += db.prepare('SELECT count(*) FROM snapshots WHERE run_key = ?').pluck().get(key) as number;
        continue;
      }
      const dropped = JSON.stringify(drop);
      const ids = `SELECT id FROM snapshots WHERE run_key = ? AND iteration IN (SELECT value FROM json_each(?))`;
      db.prepare(`DELETE FROM summaries WHERE snapshot_id IN (${ids})`).run(key, dropped);
      db.prepare(`DELETE FROM payloads WHERE snapshot_id IN (${ids})`).run(key, dropped);
      removed += db
        .prepare('DELETE FROM snapshots WHERE run_key = ? AND iteration IN (SELECT value FROM json_each(?))')
        .run(key, dropped).changes;
      kept += db.prepare('SELECT count(*) FROM snapshots WHERE run_key = ?').pluck().get(key) as number;
      rebuildSeriesChunks(db, key);
      rebuilt();
    }
    db.pragma('incremental_vacuum');
  });
  withBusyRetry(() => tx.immediate(), file, 'compacting', busyTimeoutMs);
  // A file that could not be switched (SQLite cannot in WAL mode) shrinks by a VACUUM after the commit.
  if (!incremental()) vacuumOnly(db, file, busyTimeoutMs);
  checkpoint(db, file, busyTimeoutMs);
  return { runs, snapshotsRemoved: removed, snapshotsKept: kept, bytesBefore, bytesAfter: size() };
}

/**
 * VACUUM (and in WAL mode a checkpoint that truncates the WAL): the file shrinks to what it holds. A
 * damaged file is refused first (checkIntact); VACUUM itself is all or nothing.
 */
export function vacuum(db: Db, file: string, busyTimeoutMs: number): void {
  checkIntact(db, file, 'vacuuming');
  vacuumOnly(db, file, busyTimeoutMs);
  checkpoint(db, file, busyTimeoutMs);
}

function vacuumOnly(db: Db, file: string, busyTimeoutMs: number): void {
  withBusyRetry(() => db.exec('VACUUM'), file, 'vacuuming', busyTimeoutMs);
}

/**
 * For a file still in WAL mode (another connection held it open in WAL when this one opened, see
 * JOURNAL_MODE; a no-op otherwise): copies every committed page into the main file and truncates the WAL,
 * so that the .gradscope file alone is complete. Waits (up to the busy timeout) while another connection is mid-read or mid-write. Returns false
 * when it could not finish in time, or throws EBUSY with `strict`; either way nothing is lost (the pages stay
 * in the -wal file, and the next checkpoint moves them).
 */
export function checkpoint(db: Db, file: string, busyTimeoutMs: number, strict = true): boolean {
  const deadline = Date.now() + busyTimeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    let busy = 1;
    try {
      busy = (db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0]?.busy ?? 0;
    } catch (err) {
      if (!isBusy(err)) throw fromSqlite(err, file, 'checkpointing');
    }
    if (busy === 0) return true;
    if (Date.now() >= deadline) {
      if (!strict) return false;
      throw new StoreError(
        'EBUSY',
        `${file}: checkpointing failed: other connections kept the database busy for ${busyTimeoutMs} ms (nothing is lost: the data is in ${file}-wal)`,
        { file: file },
      );
    }
    sleepSync(delay);
  }
}

/**
 * Leaves the file without its 0-byte `-journal` (JOURNAL_MODE truncates it after each commit rather than
 * deleting it: faster): switching the connection to DELETE makes SQLite delete it, under its locks, so a
 * journal another connection is using is left alone. Best effort: the empty file is harmless.
 */
export function removeJournal(db: Db): void {
  try {
    if (db.pragma('journal_mode', { simple: true }) === JOURNAL_MODE) {
      db.pragma('busy_timeout = 0');
      db.pragma('journal_mode = DELETE');
    }
  } catch {
    // Busy: another connection is writing; its journal stays.
  }
}
