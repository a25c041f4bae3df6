// Runs the demo: the gallery's runs spread over worker threads (one per core), with progress.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Annotator, type RunFindings } from './annotate.js';
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
  /** Seeds of the memory set (default DEFAULT_MEMORY_SEEDS). */
  seeds?: number;
  /** Which of the demo's runs to train; default all. */
  only?: (run: DemoRun) => boolean;
  onProgress?: (runs: RunState[]) => void;
}

/** Relative cost of a run's training (per-op bound: timesteps × layers × steps), to start the longest first. */
const PER_TIMESTEP = { lstm: 1, gru: 0.8, simpleRNN: 0.4 } as const;
const cost = (run: DemoRun, size: DemoSize) => {
  const [timesteps, layers, steps] =
    run.task === 'adding'
      ? [size.memory.timesteps, 1, size.memory.iterations]
      : [size.timesteps, 2, size.iterations];
  return (
    timesteps *
    layers *
    steps *
    PER_TIMESTEP[run.cell] *
    (run.bidirectional ? 2 : 1) *
    Math.max(1, run.units / 32)
  );
};

/** Optimizer steps a run takes. */
export const stepsOf = (run: DemoRun, size: DemoSize) =>
  run.task === 'adding' ? size.memory.iterations : size.iterations;

export class Demo {
  readonly runs: DemoRun[];
  readonly states: RunState[];
  private readonly workers: Worker[] = [];
  private stopped = false;

  /** What was measured in each finished run (after `run()`), in the demo's order. */
  findings: RunFindings[] = [];

  constructor(private readonly options: DemoOptions) {
    const size = options.size;
    this.runs = demoRuns(size, options.seeds)
      .filter(options.only ?? (() => true))
      .sort((a, b) => cost(b, size) - cost(a, size));
    this.states = this.runs.map((r) => ({
      name: r.name,
      iteration: 0,
      total: stepsOf(r, size),
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
    // The gallery's words are measured in the store as each run finishes, one run at a time.
    const annotator = new Annotator(db, this.runs);
    let annotated = Promise.resolve();
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
            // A run whose text cannot be measured keeps its bare explanation; training goes on.
            annotated = annotated
              .then(() => annotator.runDone(m.run))
              .catch((err: unknown) => {
                process.stderr.write(
                  `gradscope demo: could not measure ${m.run} for the gallery: ${err instanceof Error ? err.message : String(err)}\n`,
                );
              });
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
      await annotated;
      await annotator.close();
      const order = demoRuns(size, this.options.seeds).map((r) => r.name);
      this.findings = annotator.all().sort((a, b) => order.indexOf(a.run) - order.indexOf(b.run));
    }
  }

  /** Stops after the current training step of every run; the stores flush and close. */
  stop(): void {
    this.stopped = true;
    for (const w of this.workers) w.postMessage({ type: 'stop' } satisfies ToWorker);
  }
}
