// gradscope runs rename|delete <db> …: rename a run, or delete it with everything recorded for it.
import { StoreError } from '@gradscope/store';
import type { Command } from 'commander';
import { withStoreFile } from './store-file.js';

function notFound(path: string, run: string): StoreError {
  return new StoreError('ENOTFOUND', `${path}: no run with id or name ${JSON.stringify(run)}`, {
    file: path,
  });
}

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('rename or delete the runs of a gradscope database');
  runs
    .command('rename')
    .description('give a run a new name (its id stays)')
    .argument('<db>', 'database file (e.g. runs.gradscope)')
    .argument('<run>', 'run id, or name (the latest run of that name)')
    .argument('<name>', 'the new name')
    .action(async (db: string, run: string, name: string) => {
      await withStoreFile(db, 'renaming a run', async (reader, store) => {
        const found = reader.getRun(run);
        if (!found) throw notFound(reader.path, run);
        await store.renameRun(found.id, name);
        process.stdout.write(
          `renamed run ${found.id} from ${JSON.stringify(found.name)} to ${JSON.stringify(name)}\n`,
        );
      });
    });
  runs
    .command('delete')
    .description(
      'delete a run with its snapshots and scalars (in one transaction); `gradscope vacuum` then shrinks the file',
    )
    .argument('<db>', 'database file (e.g. runs.gradscope)')
    .argument('<run>', 'run id, or name (the latest run of that name)')
    .action(async (db: string, run: string) => {
      await withStoreFile(db, 'deleting a run', async (reader, store) => {
        const found = reader.getRun(run);
        if (!found) throw notFound(reader.path, run);
        await store.deleteRun(found.id);
        process.stdout.write(
          `deleted run ${found.id} (${JSON.stringify(found.name)}, ${found.snapshots} snapshots); run \`gradscope vacuum ${db}\` to shrink the file\n`,
        );
      });
    });
}
