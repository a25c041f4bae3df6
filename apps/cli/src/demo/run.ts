// Runs the demo: the gallery's runs spread over worker threads (one per core), with progress.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type DemoRun, type DemoSize, demoRuns } from './examples.js';
import type { FromWorker, ToWorker } from './worker.js';

export interface RunState {
  name: string;
  iteration: number;
  total: number;
  snapshots: number;
  dropped: number;
  done: boolean;
}

export interface DemoOptions {
  size: DemoSize;
  db: string;
  backend: string;
  workers?: number;
  onProgress?: (runs: RunState[]) => void;
}

/** Relative cost of one training step, to start the longest runs first. */
const cost = (run: DemoRun) =>
  (run.bidirectional ? 2 : 1) * (run.cell === 'simpleRNN' ? 0.4 : 1) * Math.max(run.units, 32);

export class Demo {
  readonly runs: DemoRun[];
  readonly states: RunState[];
  private readonly workers: Worker[] = [];
  private stopped = false;

  constructor(private readonly options: DemoOptions) {
    this.runs = demoRuns(options.size).sort((a, b) => cost(b) - cost(a));
    this.states = this.runs.map((r) => ({
      name: r.name,
      iteration: 0,
      total: options.size.iterations,
      snapshots: 0,
      dropped: 0,
      done: false,
    }));
  }

  /** Trains every run; resolves when all are done or stopped, with the store closed by each worker. */
  async run(): Promise<void> {
    const { size, db, backend } = this.options;
    const count = Math.max(1, Math.min(this.options.workers ?? availableParallelism(), this.runs.length));
    const pending = [...this.runs];
    const finished = Array.from({ length: count }, () => {
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { size, db, backend },
      });
      this.workers.push(worker);
      const send = (m: ToWorker) => worker.postMessage(m);
      const dispatch = () => {
        const run = pending.shift();
        if (run === undefined || this.stopped) send({ type: 'finish' });
        else send({ type: 'run', run, seed: 1 + 97 * this.runs.indexOf(run) });
      };
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: FromWorker) => {
          if (m.type === 'ready') dispatch();
          else if (m.type === 'progress') {
            Object.assign(this.states.find((s) => s.name === m.run)!, m);
            this.options.onProgress?.(this.states);
          } else if (m.type === 'run-done') {
            this.states.find((s) => s.name === m.run)!.done = true;
            this.options.onProgress?.(this.states);
            dispatch();
          } else if (m.type === 'closed') resolve();
          else if (m.type === 'error') reject(new Error(`demo worker: ${m.message}`));
        });
        worker.on('error', reject);
        worker.on('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`demo worker exited with code ${code}`)),
        );
      });
    });
    try {
      await Promise.all(finished);
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
  }

  /** Stops after the current training step of every run; the stores flush and close. */
  stop(): void {
    this.stopped = true;
    for (const w of this.workers) w.postMessage({ type: 'stop' } satisfies ToWorker);
  }
}
