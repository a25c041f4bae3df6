// gradscope compact <db> --keep-every N: retention for long runs (thin out old snapshots, shrink the file).
import type { Command } from 'commander';
import { collect, parseIterations, size } from '../args.js';
import { UserError } from '../errors.js';
import { withStoreFile } from './store-file.js';

interface CompactFlags {
  keepEvery: string;
  keepFirst?: string;
  keepIterations?: string;
  run?: string[];
}

function count(value: string, flag: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new UserError(`${flag} must be an integer >= ${min}, got "${value}"`);
  }
  return Number(value);
}

export function registerCompact(program: Command): void {
  program
    .command('compact')
    .description(
      'keep, per run, the first K iterations, every N-th after them, the last one and the listed ones; remove the other snapshots (scalars stay) and shrink the file',
    )
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .requiredOption('--keep-every <n>', 'keep every n-th captured iteration (1 keeps everything)')
    .option('--keep-first <k>', 'keep the first k captured iterations of each run', '0')
    .option('--keep-iterations <list>', 'always keep these iterations, comma-separated (e.g. 20,200,400)')
    .option('--run <name|id>', 'only this run (repeatable; default: every run)', collect)
    .action(async (db: string, flags: CompactFlags) => {
      const every = count(flags.keepEvery, '--keep-every', 1);
      const keepFirst = count(flags.keepFirst ?? '0', '--keep-first', 0);
      const keep =
        flags.keepIterations === undefined
          ? undefined
          : parseIterations(flags.keepIterations, '--keep-iterations');
      const result = await withStoreFile(db, 'compacting', (_reader, store) =>
        store.compact({
          every,
          keepFirst,
          ...(keep !== undefined ? { keep } : {}),
          ...(flags.run !== undefined ? { runs: flags.run } : {}),
        }),
      );
      process.stdout.write(
        `compacted ${result.runs} run${result.runs === 1 ? '' : 's'}: kept ${result.snapshotsKept} snapshots, removed ${result.snapshotsRemoved}; ${size(result.bytesBefore)} → ${size(result.bytesAfter)}\n`,
      );
    });
}
