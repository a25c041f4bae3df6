/** Creates a database of its own in `cluster` (a postgres:// URL of the tests' cluster); returns its URL. */
export function createDatabase(cluster: string, prefix?: string): Promise<string>;
/**
 * Everything a RunReader holds of its runs, in one plain value (see test-stores.mjs); `flows` lists
 * [layer, kind, maxRows] to read per run.
 */
export function storeContents(
  // biome-ignore lint/suspicious/noExplicitAny: any RunReader (typed in @gradscope/store, not a dependency here)
  reader: any,
  flows?: [layer: string, kind: string, maxRows: number | undefined][],
): Promise<Record<string, unknown>>;

declare module 'vitest' {
  export interface ProvidedContext {
    /** The tests' PostgreSQL cluster, started by vitest's globalSetup (scripts/postgres.global-setup.mjs); '' when PostgreSQL is not installed. */
    postgresUrl: string;
  }
}
