// The sweep (`pnpm sweep`): cells × learning rates × seeds on delayed recall at lag 40–47 (labelled/sweep.ts)
// trained one after the other into one store, each run tagged with its group and parameters; then the
// doctor's table with the groups, as `gradscope doctor FILE --group-by group` prints it.
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { openStore } from '@gradscope/store';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Command } from 'commander';
import { doctorTable, UserError, VERSION } from 'gradscope';
import { trainLabelled } from './labelled/runs.js';
import { DEFAULT_SWEEP_SEEDS, SWEEP_SIZES, type SweepSize, sweepRuns } from './labelled/sweep.js';

interface SweepOptions {
  db: string;
  force?: boolean;
  size: string;
  seeds: string;
  backend: string;
}

const DEFAULT_DB = 'sweep.gradscope';
/** The most seeds --seeds takes: each is 6 more runs. */
const MAX_SEEDS = 20;

const fmt = (v: number) =>
  Number.isFinite(v) ? (Math.abs(v) >= 0.01 ? v.toFixed(2) : v.toExponential(1)) : 'NaN';

export function buildSweepProgram(): Command {
  return new Command()
    .name('pnpm sweep')
    .description(
      'train SimpleRNN, GRU and LSTM at two learning rates and several seeds on delayed recall at lag 40–47 into one store, tagged by group, then print the doctor by group',
    )
    .version(VERSION)
    .showSuggestionAfterError(true)
    .option('--db <path>', 'store file', DEFAULT_DB)
    .option('--force', 'replace the --db file if it exists')
    .option('--size <size>', 'default | tiny (seconds, for tests)', 'default')
    .option('--seeds <n>', 'seeds of each configuration', String(DEFAULT_SWEEP_SEEDS))
    .option('--backend <name>', 'tfjs backend: wasm or cpu', 'wasm')
    .action(async (opts: SweepOptions) => {
      if (!(opts.size in SWEEP_SIZES))
        throw new UserError(
          `--size must be one of ${Object.keys(SWEEP_SIZES).join(', ')}, got '${opts.size}'`,
        );
      const seeds = Number(opts.seeds);
      if (!Number.isInteger(seeds) || seeds < 1 || seeds > MAX_SEEDS)
        throw new UserError(`--seeds must be an integer from 1 to ${MAX_SEEDS}, got '${opts.seeds}'`);
      if (!['wasm', 'cpu'].includes(opts.backend))
        throw new UserError(`--backend must be wasm or cpu, got '${opts.backend}'`);
      const db = resolve(opts.db);
      if (existsSync(db) && !opts.force)
        throw new UserError(
          `${db} exists: the sweep writes a fresh store; remove it, pass --force, or choose another --db`,
        );
      for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(db + suffix, { force: true });

      const size: SweepSize = SWEEP_SIZES[opts.size as SweepSize['name']];
      const runs = sweepRuns(size, seeds);
      const lag = `${size.task.timesteps - 1 - size.task.cue.last}–${size.task.timesteps - 1 - size.task.cue.first}`;
      process.stderr.write(
        `gradscope sweep: ${runs.length} runs into ${db}\n  delayed recall, ${size.task.timesteps} timesteps, lag ${lag}; ${size.units} units, batch ${size.batch}, Adam; ${[...new Set(runs.map((r) => r.group))].length} configurations × ${seeds} seed${seeds === 1 ? '' : 's'}\n`,
      );
      await tf.setBackend(opts.backend);
      await tf.ready();
      let stopping = false;
      const onSignal = () => {
        if (stopping) process.exit(130);
        stopping = true;
        process.stderr.write(
          '\ngradscope sweep: stopping after the current run (Ctrl-C again to quit at once)…\n',
        );
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const started = Date.now();
      const store = await openStore(db);
      let trained = 0;
      try {
        for (const { run, group, params } of runs) {
          if (stopping) break;
          const r = await trainLabelled(run, store, { verbose: 0, group, params });
          trained++;
          process.stderr.write(
            `  ${String(trained).padStart(2)}/${runs.length} ${run.name}: loss ÷ constant predictor ${fmt(r.initialRatio)} → ${fmt(r.ratio)} (${r.truth}), ${(r.ms / 1000).toFixed(0)} s\n`,
          );
        }
      } finally {
        await store.close();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      process.stderr.write(`gradscope sweep: trained ${trained} of ${runs.length} runs in ${seconds} s\n\n`);
      process.stdout.write(`gradscope doctor ${db} --group-by group:\n${await doctorTable(db, 'group')}\n`);
    });
}
