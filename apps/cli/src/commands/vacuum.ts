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
      const file = !isPostgresUrl(db);
      const { path, before } = await withStoreFile(db, 'vacuuming', async (reader, store) => {
        const before = file ? statSync(reader.path).size : 0;
        await store.vacuum();
        return { path: reader.path, before };
      });
      // A file measured after close: the last commits are in it then (and a file still in WAL mode is checkpointed).
      process.stdout.write(
        file ? `${path}: ${size(before)} → ${size(statSync(path).size)}\n` : `${path}: vacuumed\n`,
      );
    });
}
