// Opening an existing store file for a management command: never creates one (openStore would).
import { openReader, openStore, type Reader, type Store } from '@gradscope/store';

/**
 * Runs `fn` with a reader (to look things up and report) and a store (to change the file) over `db`, which
 * must exist and be a gradscope database (the reader says so in one line otherwise); closes both.
 */
export async function withStoreFile<T>(
  db: string,
  fn: (reader: Reader, store: Store) => Promise<T>,
): Promise<T> {
  const reader = openReader(db);
  let store: Store | undefined;
  try {
    store = openStore(reader.path);
    return await fn(reader, store);
  } finally {
    await store?.close();
    reader.close();
  }
}
