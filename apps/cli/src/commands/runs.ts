// gradscope runs rename|tag|delete <db> …: rename a run, set its group and params, or delete it with
// everything recorded for it.
import { paramText } from '@gradscope/format';
import { type RunTag, StoreError } from '@gradscope/store';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { withStoreFile } from './store-file.js';

/**
 * One `--param key=value`: the value is read as JSON when it is JSON (0.005, true, null, "text", [1,2]),
 * else taken as text (GRU). null removes the key.
 */
export function parseParam(text: string, into: Record<string, unknown> = {}): Record<string, unknown> {
  const at = text.indexOf('=');
  if (at <= 0)
    throw new UserError(
      `--param must be key=value (e.g. --param lr=0.005 or --param cell=GRU), got "${text}"`,
    );
  const key = text.slice(0, at);
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // Not JSON: the text itself.
  }
  return { ...into, [key]: value };
}

const describeTag = (group: string | null | undefined, params: Record<string, unknown> | undefined) => {
  const entries = Object.entries(params ?? {});
  return `group ${group == null ? '(none)' : JSON.stringify(group)}; params ${
    entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${paramText(v)}`).join(', ')
  }`;
};

function notFound(path: string, run: string): StoreError {
  return new StoreError('ENOTFOUND', `${path}: no run with id or name ${JSON.stringify(run)}`, {
    file: path,
  });
}

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description('rename, group and tag, or delete the runs of a gradscope database');
  runs
    .command('rename')
    .description('give a run a new name (its id stays)')
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .argument('<run>', 'run id, or name (the latest run of that name)')
    .argument('<name>', 'the new name')
    .action(async (db: string, run: string, name: string) => {
      await withStoreFile(db, 'renaming a run', async (reader, store) => {
        const found = await reader.getRun(run);
        if (!found) throw notFound(reader.path, run);
        await store.renameRun(found.id, name);
        process.stdout.write(
          `renamed run ${found.id} from ${JSON.stringify(found.name)} to ${JSON.stringify(name)}\n`,
        );
      });
    });
  runs
    .command('tag')
    .description(
      "set a run's group and params: --group replaces the group, each --param sets one key over the stored ones",
    )
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .argument('<run>', 'run id, or name (the latest run of that name)')
    .option('--group <group>', 'the group (e.g. the seed-free name of a configuration)')
    .option('--ungroup', 'remove the group')
    .option(
      '--param <key=value>',
      'set one parameter, repeatable; the value is JSON when it parses (0.005, true, [1,2]), else text; key=null removes it',
      (text: string, previous: Record<string, unknown>) => parseParam(text, previous),
      {},
    )
    .action(
      async (
        db: string,
        run: string,
        opts: { group?: string; ungroup?: boolean; param: Record<string, unknown> },
      ) => {
        if (opts.group !== undefined && opts.ungroup)
          throw new UserError('--group and --ungroup contradict each other: give one');
        const tag: RunTag = {
          ...(opts.group !== undefined ? { group: opts.group } : {}),
          ...(opts.ungroup ? { group: null } : {}),
          ...(Object.keys(opts.param).length > 0 ? { params: opts.param } : {}),
        };
        if (tag.group === undefined && tag.params === undefined)
          throw new UserError('runs tag: nothing to set: give --group, --ungroup or --param key=value');
        await withStoreFile(db, 'tagging a run', async (reader, store) => {
          const found = await reader.getRun(run);
          if (!found) throw notFound(reader.path, run);
          await store.tagRun(found.id, tag);
          const after = (await reader.getRun(found.id))!;
          process.stdout.write(
            `tagged run ${found.id} (${JSON.stringify(found.name)}): ${describeTag(after.group, after.params)}\n`,
          );
        });
      },
    );
  runs
    .command('delete')
    .description(
      'delete a run with its snapshots and scalars (in one transaction); `gradscope vacuum` then shrinks the file',
    )
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .argument('<run>', 'run id, or name (the latest run of that name)')
    .action(async (db: string, run: string) => {
      await withStoreFile(db, 'deleting a run', async (reader, store) => {
        const found = await reader.getRun(run);
        if (!found) throw notFound(reader.path, run);
        await store.deleteRun(found.id);
        process.stdout.write(
          `deleted run ${found.id} (${JSON.stringify(found.name)}, ${found.snapshots} snapshots); run \`gradscope vacuum ${db}\` to shrink the file\n`,
        );
      });
    });
  // After the subcommands, so that only `gradscope runs <not a subcommand>` says it (they would inherit it).
  runs.showHelpAfterError(
    'gradscope runs takes what to do first: rename <db> <run> <name>, tag <db> <run> --group G, or delete <db> <run>',
  );
}
