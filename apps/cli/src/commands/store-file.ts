// Opening an existing store for a management command: a file (never created here, as openStore would) or a
// store in PostgreSQL (a postgres:// URL).

import {
  checkFile,
  isPostgresUrl,
  openRunReader,
  openStore,
  type RunDetails,
  type RunReader,
  type Store,
  StoreError,
} from '@gradscope/store';
import { UserError } from '../errors.js';

/**
 * Runs `fn` with a reader (to look things up and report) and a store (to change the file) over `db`, which
 * must exist and be a whole gradscope database; closes both. The file is checked first (checkFile: SQLite's
 * quick_check and every table of the schema), so that a missing, foreign or damaged file is refused in one
 * line naming it, before anything is changed; a whole file of an older schema is migrated first. `doing` says
 * what is refused ("deleting a run").
 */
export async function withStoreFile<T>(
  db: string,
  doing: string,
  fn: (reader: RunReader, store: Store) => Promise<T>,
): Promise<T> {
  if (isPostgresUrl(db)) return withStore(db, fn);
  try {
    checkFile(db, doing);
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'EOLDER')) throw err;
    // Whole, of an older schema (as the reader's message says, opening it for writing migrates it, in one
    // transaction); then checked like any other.
    await openStore(db, { onError: () => {} }).close();
    checkFile(db, doing);
  }
  return withStore(db, fn);
}

/**
 * A reader and a store over `target`, both closed after `fn`. On PostgreSQL the reader refuses a database
 * without a gradscope store (ENOTDB) before the store could create one: the reader's first query comes first.
 */
async function withStore<T>(target: string, fn: (reader: RunReader, store: Store) => Promise<T>): Promise<T> {
  const reader = openRunReader(target);
  let store: Store | undefined;
  try {
    await reader.dataVersion();
    // Every operation is awaited and its failure reported by the command: the store prints nothing itself.
    store = openStore(target, { onError: () => {} });
    return await fn(reader, store);
  } finally {
    await store?.close();
    await reader.close();
  }
}

/** The runs `names` (ids or names) of `reader`, each once, in the order given; a name it lacks is a UserError. */
export async function resolveRuns(reader: RunReader, names: readonly string[]): Promise<RunDetails[]> {
  const runs: RunDetails[] = [];
  for (const name of names) {
    const found = await reader.getRun(name);
    if (!found) throw new UserError(`--run: no run with id or name '${name}' in ${reader.path}`, 'EINPUT');
    if (!runs.some((r) => r.id === found.id)) runs.push(found);
  }
  return runs;
}
