// The two providers of one store test suite: `describe.each(BACKENDS)` runs a suite once on an SQLite file
// and once on PostgreSQL (the cluster vitest's globalSetup started, scripts/postgres.global-setup.mjs). Each
// `fresh()` is an empty store of its own: a file in a temporary directory, or a new database.
import { join } from 'node:path';
import { inject } from 'vitest';
import { createDatabase as createDatabaseIn } from '../../../../scripts/test-stores.mjs';
import { tempDir } from './fixtures.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A new, empty store target: a file path or a postgres:// URL of a new database. */
  fresh(): Promise<string>;
  /** Removes what fresh() made (files; databases go with the cluster). */
  cleanup(): void;
}

/** The cluster's URL, or an error saying how to get one. */
export function postgresUrl(): string {
  const url = inject('postgresUrl');
  if (!url) {
    throw new Error(
      'no PostgreSQL for the tests: install it with `node scripts/ensure-postgres.mjs` (vitest starts a cluster of its own)',
    );
  }
  return url;
}

/** Creates a database of its own in the tests' cluster; returns its URL. */
export function createDatabase(prefix = 'gs'): Promise<string> {
  return createDatabaseIn(postgresUrl(), prefix);
}

export function sqliteBackend(): Backend {
  const dirs: (() => void)[] = [];
  let n = 0;
  return {
    name: 'sqlite',
    async fresh() {
      const { dir, cleanup } = tempDir();
      dirs.push(cleanup);
      return join(dir, `store-${n++}.gradscope`);
    },
    cleanup() {
      for (const c of dirs.splice(0)) c();
    },
  };
}

export function postgresBackend(): Backend {
  return { name: 'postgres', fresh: () => createDatabase(), cleanup() {} };
}

/** Both providers, for describe.each. */
export const BACKENDS: Backend[] = [sqliteBackend(), postgresBackend()];
