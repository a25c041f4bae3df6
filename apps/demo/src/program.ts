// The demo (`pnpm demo`): trains the See RNN gallery (EX1–EX9, on its random data) and the memory set (LSTM
// vs GRU vs SimpleRNN on the adding problem) on the wasm backend, recording gradients into one store, with
// live progress; measures each finished run for its gallery text, prints what it trained and the doctor's
// table, then serves the viewer.
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_PORT } from '@gradscope/format';
import { openStore } from '@gradscope/store';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { doctorTable, openUrl, parsePort, startServer, UserError, VERSION } from 'gradscope';
import { fmt, type RunFindings } from './annotate.js';
import { Eta } from './eta.js';
import { DEFAULT_MEMORY_SEEDS, type DemoRun, MAX_MEMORY_SEEDS, SIZES } from './examples.js';
import { Demo, type RunState } from './run.js';

interface DemoOptions {
  full?: boolean;
  size?: string;
  db?: string;
  port: string;
  serve: boolean;
  workers?: string;
  backend: string;
  force?: boolean;
  set: string;
  seeds: string;
}

const SETS: Record<string, (run: DemoRun) => boolean> = {
  all: () => true,
  'see-rnn': (run) => run.task === 'random',
  memory: (run) => run.task === 'adding',
};

const DEFAULT_DB = 'gradscope-demo.gradscope';

function removeStore(path: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

function describe(size: (typeof SIZES)[keyof typeof SIZES], set: string, seeds: number): string {
  const m = size.memory;
  const seed = `See RNN examples: ${size.samples} samples × ${size.timesteps} timesteps, units ${size.small} (EX1–3, 6, 8), ${size.wide} (EX4, 5, 7), ${size.weights} (EX9), ${size.iterations} iterations, fresh random data every ${size.freshEvery}`;
  const memory = `memory set: adding problem, ${m.timesteps} timesteps, LSTM/GRU/SimpleRNN ${m.units} units, ${m.iterations} steps of ${m.batch}${seeds > 1 ? `, ${seeds} seeds each (grouped by cell)` : ''}`;
  const parts = set === 'memory' ? [memory] : set === 'see-rnn' ? [seed] : [seed, memory];
  return `${size.name} size: ${parts.join('; ')}`;
}

/** One line per run: what it trained on and where its probe loss went. */
export function findingsTable(findings: RunFindings[]): string {
  const width = Math.max(...findings.map((f) => f.run.length), 3);
  return findings
    .map((f) => {
      const first = f.probeLoss[0];
      const last = f.probeLoss.at(-1);
      const loss =
        first && last
          ? `probe loss ${fmt(first.value)} @${first.iteration} → ${fmt(last.value)} @${last.iteration}`
          : 'no snapshot';
      let extra = '';
      if (f.task === 'adding' && last && f.meanPredictorMse !== undefined) {
        extra = ` = ${fmt((100 * last.value) / f.meanPredictorMse)}% of the mean predictor's ${fmt(f.meanPredictorMse)}`;
        if (f.inputGrad)
          extra += `; input-grad first half ${fmt(100 * f.inputGrad.firstHalfPeak)}% of its peak @${f.inputGrad.iteration}`;
      } else if (f.task === 'random') extra = ' (random data: nothing to learn)';
      return `  ${f.run.padEnd(width)}  ${loss}${extra}`;
    })
    .join('\n');
}

/** Progress on a terminal: one bar per run plus the total, with ETA; elsewhere a line per 10%. */
function progressDisplay(total: number) {
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar(
      {
        format: ' {name} [{bar}] {value}/{total} it | {snapshots} snapshots | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    // The total bar starts at the first finished step: cli-progress's ETA is the pace over its last updates,
    // and a bar created before tfjs warmed up would count the warm-up as the pace (a first ETA of 4094 s
    // for a job of minutes).
    let all: cliProgress.SingleBar | undefined;
    const each = new Map<string, cliProgress.SingleBar>();
    return {
      update(states: RunState[]) {
        for (const s of states) {
          if (!each.has(s.name) && s.iteration > 0)
            each.set(s.name, bars.create(s.total, s.iteration, { name: s.name.padEnd(24), snapshots: 0 }));
          each.get(s.name)?.update(s.iteration, { snapshots: s.snapshots });
        }
        const done = states.reduce((a, s) => a + s.iteration, 0);
        const snapshots = states.reduce((a, s) => a + s.snapshots, 0);
        if (!all && done > 0) all = bars.create(total, done, { name: 'all runs'.padEnd(24), snapshots });
        all?.update(done, { snapshots });
      },
      stop: () => bars.stop(),
    };
  }
  let shown = -1;
  const eta = new Eta(total);
  return {
    update(states: RunState[]) {
      const done = states.reduce((a, s) => a + s.iteration, 0);
      const left = eta.update({ at: Date.now(), done });
      const tenth = Math.floor((10 * done) / total);
      if (tenth === shown) return;
      shown = tenth;
      const snapshots = states.reduce((a, s) => a + s.snapshots, 0);
      process.stderr.write(
        `demo: ${done}/${total} iterations, ${snapshots} snapshots written, ${
          left === null ? 'ETA: measuring the pace' : `ETA ${left} s`
        }\n`,
      );
    },
    stop() {},
  };
}

/** The demo's command line: `pnpm demo [options]` (root package.json runs apps/demo/dist/main.js). */
export function buildDemoProgram(): Command {
  return new Command()
    .name('pnpm demo')
    .description(
      'train the See RNN examples (LSTM, GRU, SimpleRNN, bidirectional) and the memory set, record their gradients, open the viewer',
    )
    .version(VERSION)
    .showSuggestionAfterError(true)
    .option('--full', "the See RNN README's sizes (256 units, 100 timesteps): hours on a CPU")
    .option('--size <size>', 'tiny | default | full')
    .option('--db <path>', `store file (default ${DEFAULT_DB}, replaced on every run)`)
    .option('--force', 'replace the --db file if it exists')
    .option('--port <port>', 'port of the viewer', String(DEFAULT_PORT))
    .option('--no-serve', 'train and record only, then exit')
    .option('--workers <n>', 'training threads (default: one per core)')
    .option('--backend <name>', 'tfjs backend: wasm (fast here) or cpu', 'wasm')
    .option('--set <set>', 'which runs: all | see-rnn (EX1–EX9) | memory (the adding problem)', 'all')
    .option(
      '--seeds <n>',
      `seeds of the memory set: each of its 3 cells trained at n seeds, grouped by cell (each seed adds about as much training as the whole memory set; see docs/benchmarks.md)`,
      String(DEFAULT_MEMORY_SEEDS),
    )
    .action(async (opts: DemoOptions) => {
      const sizeName = opts.full ? 'full' : (opts.size ?? 'default');
      if (!(sizeName in SIZES))
        throw new UserError(`--size must be one of ${Object.keys(SIZES).join(', ')}, got '${sizeName}'`);
      if (!(opts.set in SETS))
        throw new UserError(`--set must be one of ${Object.keys(SETS).join(', ')}, got '${opts.set}'`);
      if (!['wasm', 'cpu'].includes(opts.backend))
        throw new UserError(`--backend must be wasm or cpu, got '${opts.backend}'`);
      const workers = opts.workers === undefined ? undefined : Number(opts.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
        throw new UserError(`--workers must be a positive integer, got '${opts.workers}'`);
      }
      const seeds = Number(opts.seeds);
      if (!Number.isInteger(seeds) || seeds < 1 || seeds > MAX_MEMORY_SEEDS)
        throw new UserError(`--seeds must be an integer from 1 to ${MAX_MEMORY_SEEDS}, got '${opts.seeds}'`);
      const port = parsePort(opts.port);
      const size = SIZES[sizeName as keyof typeof SIZES];
      const db = resolve(opts.db ?? DEFAULT_DB);
      if (existsSync(db) && opts.db !== undefined && !opts.force) {
        throw new UserError(
          `${db} exists: the demo writes a fresh store; remove it, pass --force, or choose another --db`,
        );
      }
      removeStore(db);
      // Create the file now: the server reads it from the start, while the workers write.
      await openStore(db).close();

      let display: ReturnType<typeof progressDisplay> | undefined;
      const demo = new Demo({
        size,
        db,
        backend: opts.backend,
        only: SETS[opts.set]!,
        seeds,
        ...(workers ? { workers } : {}),
        onProgress: (states) => display?.update(states),
      });
      process.stderr.write(
        `gradscope demo: ${demo.runs.length} runs into ${db}\n  ${describe(size, opts.set, seeds)}\n`,
      );
      // Serve from the start: the viewer follows the runs live while they train.
      const server = opts.serve
        ? await startServer(db, { host: '127.0.0.1', port: String(port), ingest: false })
        : undefined;
      if (server)
        process.stderr.write(`  viewer: ${openUrl(server, undefined, '#/gallery')} (live while training)\n`);

      display = progressDisplay(demo.states.reduce((a, s) => a + s.total, 0));
      // One signal handler for the whole command (no moment without one, so no Ctrl-C ever hits the
      // default action): while training it stops the runs, while serving it ends the command.
      let interrupted = false;
      let training = true;
      let stopServing: () => void = () => {};
      const servingStopped = new Promise<void>((resolve) => {
        stopServing = resolve;
      });
      const onSignal = () => {
        if (!training) return stopServing();
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write(
          '\ngradscope demo: stopping after the current step (Ctrl-C again to quit at once)…\n',
        );
        demo.stop();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const started = Date.now();
      try {
        try {
          await demo.run();
        } finally {
          display?.stop();
          training = false;
        }
        const seconds = ((Date.now() - started) / 1000).toFixed(0);
        const snapshots = demo.states.reduce((a, s) => a + s.snapshots, 0);
        process.stderr.write(
          `gradscope demo: ${interrupted ? 'stopped' : 'trained'} ${demo.runs.length} runs in ${seconds} s, ${snapshots} snapshots in ${db}\n`,
        );
        if (demo.findings.length) process.stderr.write(`${findingsTable(demo.findings)}\n`);
        process.stderr.write(
          `\ngradscope doctor ${db}:\n${await doctorTable(db, seeds > 1 ? 'group' : undefined)}\n\n`,
        );
        if (!server) return;
        process.stdout.write(
          `gradscope: serving the gallery at ${openUrl(server, undefined, '#/gallery')}\n  Ctrl-C to stop\n`,
        );
        await servingStopped;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await server?.close();
      }
    });
}
