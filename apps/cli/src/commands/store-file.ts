// Opening an existing store file for a management command: never creates one (openStore would).
import { checkFile, openReader, openStore, type Reader, type Store, StoreError } from '@gradscope/store';

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
  fn: (reader: Reader, store: Store) => Promise<T>,
): Promise<T> {
  try {
    checkFile(db, doing);
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'EOLDER')) throw err;
    // Whole, of an older schema (as the reader's message says, opening it for writing migrates it, in one
    // transaction); then checked like any other.
    await openStore(db, { onError: () => {} }).close();
    checkFile(db, doing);
  }
  const reader = openReader(db);
  let store: Store | undefined;
  try {
    // Every operation is awaited and its failure reported by the command: the store prints nothing itself.
    store = openStore(reader.path, { onError: () => {} });
    return await fn(reader, store);
  } finally {
    await store?.close();
    reader.close();
  }
}
