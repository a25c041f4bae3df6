// gradscope vacuum <db>: rewrite the file without its free pages (after deleting runs or compacting).
import { statSync } from 'node:fs';
import { isPostgresUrl } from '@gradscope/store';
import type { Command } from 'commander';
import { size } from '../args.js';
import { withStoreFile } from './store-file.js';

export function registerVacuum(program: Command): void {
  program
    .command('vacuum')
    .description(
      'shrink a gradscope database file after runs were deleted (SQLite VACUUM; VACUUM of the tables on PostgreSQL)',
    )
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .action(async (db: string) => {
      if (isPostgresUrl(db)) {
        const where = await withStoreFile(db, 'vacuuming', async (reader, store) => {
          await store.vacuum();
          return reader.path;
        });
        process.stdout.write(`${where}: vacuumed\n`);
        return;
      }
      const path = await withStoreFile(db, 'vacuuming', async (reader, store) => {
        const before = statSync(reader.path).size;
        await store.vacuum();
        return { path: reader.path, before };
      });
      // Measured after close: the last commits are in the file then (and a file still in WAL mode is checkpointed).
      const after = statSync(path.path).size;
      process.stdout.write(`${path.path}: ${size(path.before)} → ${size(after)}\n`);
    });
}
