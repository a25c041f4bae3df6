// gradscope demo: trains the See RNN gallery (EX1–EX9) on the wasm backend, recording gradients into
// one store, with live progress; then serves the viewer on the gallery.
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { openStore } from '@gradscope/store';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { SIZES } from '../demo/examples.js';
import { Demo, type RunState } from '../demo/run.js';
import { UserError } from '../errors.js';
import { openUrl, parsePort, startServer } from './serve.js';

interface DemoOptions {
  full?: boolean;
  size?: string;
  db?: string;
  port: string;
  serve: boolean;
  workers?: string;
  backend: string;
  force?: boolean;
}

const DEFAULT_DB = 'gradscope-demo.gradscope';

function removeStore(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

function describe(size: (typeof SIZES)[keyof typeof SIZES]): string {
  return `${size.name} size: ${size.samples} samples × ${size.timesteps} timesteps, units ${size.small} (EX1–3, 6, 8), ${size.wide} (EX4, 5, 7), ${size.weights} (EX9), ${size.iterations} iterations, fresh data every ${size.freshEvery}`;
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
    const all = bars.create(total, 0, { name: 'all runs'.padEnd(24), snapshots: 0 });
    const each = new Map<string, cliProgress.SingleBar>();
    return {
      update(states: RunState[]) {
        for (const s of states) {
          if (!each.has(s.name) && s.iteration > 0)
            each.set(s.name, bars.create(s.total, 0, { name: s.name.padEnd(24), snapshots: 0 }));
          each.get(s.name)?.update(s.iteration, { snapshots: s.snapshots });
        }
        all.update(
          states.reduce((a, s) => a + s.iteration, 0),
          { snapshots: states.reduce((a, s) => a + s.snapshots, 0) },
        );
      },
      stop: () => bars.stop(),
    };
  }
  let shown = -1;
  const started = Date.now();
  return {
    update(states: RunState[]) {
      const done = states.reduce((a, s) => a + s.iteration, 0);
      const tenth = Math.floor((10 * done) / total);
      if (tenth === shown) return;
      shown = tenth;
      const elapsed = (Date.now() - started) / 1000;
      const eta = done > 0 ? Math.round((elapsed * (total - done)) / done) : '?';
      const snapshots = states.reduce((a, s) => a + s.snapshots, 0);
      process.stderr.write(
        `demo: ${done}/${total} iterations, ${snapshots} snapshots written, ETA ${eta} s\n`,
      );
    },
    stop() {},
  };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'train the See RNN examples (LSTM, GRU, SimpleRNN, bidirectional), record their gradients, open the viewer',
    )
    .option('--full', "the See RNN README's sizes (256 units, 100 timesteps): hours on a CPU")
    .option('--size <size>', 'tiny | default | full')
    .option('--db <path>', `store file (default ${DEFAULT_DB}, replaced on every run)`)
    .option('--force', 'replace the --db file if it exists')
    .option('--port <port>', 'port of the viewer', '6006')
    .option('--no-serve', 'train and record only, then exit')
    .option('--workers <n>', 'training threads (default: one per core)')
    .option('--backend <name>', 'tfjs backend: wasm (fast here) or cpu', 'wasm')
    .action(async (opts: DemoOptions) => {
      const sizeName = opts.full ? 'full' : (opts.size ?? 'default');
      if (!(sizeName in SIZES))
        throw new UserError(`--size must be one of ${Object.keys(SIZES).join(', ')}, got '${sizeName}'`);
      if (!['wasm', 'cpu'].includes(opts.backend))
        throw new UserError(`--backend must be wasm or cpu, got '${opts.backend}'`);
      const workers = opts.workers === undefined ? undefined : Number(opts.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
        throw new UserError(`--workers must be a positive integer, got '${opts.workers}'`);
      }
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
        ...(workers ? { workers } : {}),
        onProgress: (states) => display?.update(states),
      });
      process.stderr.write(`gradscope demo: ${demo.runs.length} runs into ${db}\n  ${describe(size)}\n`);
      // Serve from the start: the viewer follows the runs live while they train.
      const server = opts.serve
        ? await startServer(db, { host: '127.0.0.1', port: String(port), ingest: false })
        : undefined;
      if (server)
        process.stderr.write(`  viewer: ${openUrl(server, undefined, '#/gallery')} (live while training)\n`);

      display = progressDisplay(demo.runs.length * size.iterations);
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
