// The demo gallery: the See RNN examples (EX1–EX9) as training runs on the seed's random data, and the
// memory set (MEM: LSTM vs GRU vs SimpleRNN on the adding problem), with what to look for in each. Every
// claim about a figure is measured from the store after training (see annotate.ts), never written here.
import type { Kind } from '@gradscope/capture';

export type Cell = 'lstm' | 'gru' | 'simpleRNN';

/**
 * 'random': See RNN's data (standard-normal inputs, uniform targets, fresh every `freshEvery` iterations),
 * which cannot be learned. 'adding': the adding problem (adding.ts), a dependency of at least T/2 timesteps.
 */
export type Task = 'random' | 'adding';

/**
 * A measurement filled into a gallery entry's text from the stored run once it has finished. It reads the
 * entry's own layer and kind (`view`) unless it names others.
 * - loss: the probe loss at the captured iterations (and, for the adding problem, against the mean predictor).
 * - horizon: the stored memory horizon at `iterations`.
 * - firstHalf: the largest per-timestep norm over the first half of the sequence relative to the largest over
 *   all timesteps, at `iterations`.
 * - recent: where the per-timestep norm peaks and the share of the squared norm in the last 20% of timesteps.
 * - channels: spread of the per-channel norms.
 * - parts: each direction's share of a bidirectional layer's squared norm, and where each peaks.
 * - range: smallest and largest value (0D gradients).
 * - saturation: share of activations with |h| > 0.9 (from the stored histogram).
 * - nonFinite: snapshots holding NaN/Inf over the whole run.
 * - memory: for each of `runs`, probe loss first → last, against the mean predictor, and the input-gradient
 *   norm over the first half of the sequence relative to its peak at the last captured iteration.
 */
export type Claim =
  | { type: 'loss' }
  | { type: 'horizon'; iterations: number[] }
  | { type: 'firstHalf'; iterations: number[] }
  | { type: 'recent'; iteration: number }
  | { type: 'channels'; iteration: number }
  | { type: 'parts'; iteration: number }
  | { type: 'range'; iteration: number }
  | { type: 'saturation'; iterations: number[] }
  | { type: 'nonFinite' }
  | { type: 'memory'; runs: string[]; kind: Kind };

/**
 * How a gallery entry opens the viewer. `layer` is an index into the model's layers here (0: the
 * returnSequences layer, 1: the last-step layer); the run's metadata carries the layer's name instead.
 */
export interface GalleryView {
  view: '0d' | '1d' | '2d' | 'flow';
  layer: number | string;
  kind: Kind;
  iterations: number[];
  /** One sample only (1D), else all samples. */
  sample?: number;
  /** Manual symmetric colour norm (-norm, norm); auto when absent. */
  norm?: number;
  rows?: number;
  reflectHalf?: boolean;
  /** For weights: which part, e.g. 'forward/kernel/i'. */
  part?: string;
}

export interface GalleryEntry {
  id: string;
  title: string;
  /**
   * What the figure shows and how to read it (no claim about this run's numbers). After training the
   * measured findings are appended (annotate.ts); the bare text is kept as `explain`.
   */
  lookFor: string;
  view: GalleryView;
  /** A viewer URL fragment of its own (e.g. the compare page of several runs) instead of `view` of this run. */
  href?: string;
  /** What to measure in the store and append to `lookFor`. */
  claims: Claim[];
}

export interface DemoRun {
  name: string;
  cell: Cell;
  units: number;
  bidirectional: boolean;
  task: Task;
  capture: Kind[];
  gallery: GalleryEntry[];
  /** Memory set: the seed (1, 2, …) of the data stream and initial weights; 1 is the gallery's run. */
  seed?: number;
  /** Memory set: the run's group, the seed-free name of its configuration (RunInfo.group). */
  group?: string;
}

/** The memory set's training: one recurrent layer → Dense(1), Adam, MSE, a fresh seeded batch every step. */
export interface MemorySize {
  timesteps: number;
  units: number;
  batch: number;
  /** Samples of the fixed probe batch the snapshots and the probe loss are computed on. */
  probe: number;
  iterations: number;
  /** Record every N iterations besides 20, 200 and 400. */
  every: number;
  learningRate: number;
  /**
   * Initial forget-gate bias of the LSTM. tfjs's default is 0 (unitForgetBias: 1): with it the LSTM stays
   * at the mean predictor for hundreds of steps at T = 50. Measured with plain tfjs (LSTM-16, Adam 1e-2,
   * probe MSE after 400 steps; the mean predictor's is 0.167): bias 1 0.163; bias 3 at batch 64 0.0045 and
   * 0.0041 (data seeds 1 and 7); bias 5 still 0.166 after 500 steps. The settings search that measured these, apps/cli/src/demo/
   * memory-experiment.mjs, is in git history (removed when the demo became apps/demo).
   */
  forgetBias: number;
}

export interface DemoSize {
  name: 'tiny' | 'default' | 'full';
  timesteps: number;
  samples: number;
  /** Units of the 6-unit See RNN examples (EX1–3, 6, 8). */
  small: number;
  /** Units of the "many units" examples (EX4, EX5, EX7). */
  wide: number;
  /** Units per direction of the bidirectional LSTM of EX9. */
  weights: number;
  iterations: number;
  /** Record every N iterations besides 20, 200 and 400. */
  every: number;
  /** Fresh training data every N iterations, as in See RNN. */
  freshEvery: number;
  memory: MemorySize;
}

/**
 * Sizes. tfjs's pure-JS RNNs are bound by per-op overhead: a training step costs about 4 ms per timestep
 * per layer on the wasm backend here, whatever the unit count up to ~32, so the default demo shortens the
 * sequences rather than the training; `full` is the See RNN README's configuration.
 */
export const SIZES: Record<DemoSize['name'], DemoSize> = {
  tiny: {
    name: 'tiny',
    timesteps: 6,
    samples: 4,
    small: 3,
    wide: 4,
    weights: 2,
    iterations: 400,
    every: 100,
    freshEvery: 40,
    // Short enough that the test's GRU learns within 200 steps (measured with the settings search above).
    memory: {
      timesteps: 10,
      units: 8,
      batch: 32,
      probe: 128,
      iterations: 200,
      every: 50,
      learningRate: 1e-2,
      forgetBias: 3,
    },
  },
  default: {
    name: 'default',
    // 16 (was 25): room for the memory set within 4 minutes on 2 cores. Measured under load, the memory
    // set took 0.53× the worker time of the See RNN runs at 20 timesteps; at 25 they took ~3 min alone.
    timesteps: 16,
    samples: 16,
    small: 6,
    wide: 16,
    weights: 4,
    iterations: 400,
    every: 20,
    freshEvery: 40,
    memory: {
      timesteps: 50,
      units: 16,
      // 64, not 32: at the same cost per step (per-op bound) the LSTM left the mean predictor by step
      // 300–400 on both data seeds tried, against 400–500 with 32 (the settings search above).
      batch: 64,
      probe: 256,
      iterations: 500,
      every: 50,
      learningRate: 1e-2,
      forgetBias: 3,
    },
  },
  full: {
    name: 'full',
    timesteps: 100,
    samples: 16,
    small: 6,
    wide: 256,
    weights: 16,
    iterations: 400,
    every: 20,
    freshEvery: 40,
    memory: {
      timesteps: 100,
      units: 32,
      batch: 32,
      probe: 128,
      iterations: 2000,
      every: 100,
      learningRate: 1e-2,
      forgetBias: 3,
    },
  },
};

/** Iterations captured besides every `every`: See RNN's 20, 200 and 400, within the run's length. */
export function captureAt(iterations: number): number[] {
  return [20, 200, 400].filter((i) => i <= iterations);
}

/** Seeds of the memory set by default: 1 (3 runs); `pnpm demo --seeds N` trains N of each cell. */
export const DEFAULT_MEMORY_SEEDS = 1;
/** The most seeds `--seeds` takes (the data seeds of seed ≤ 20 stay clear of the probe's). */
export const MAX_MEMORY_SEEDS = 20;

/** The memory set's run names (of seed 1), in the order the compare page lists them. */
export const MEMORY_RUNS = ['memory-lstm', 'memory-gru', 'memory-simplernn'] as const;

const MEMORY_CELLS: Record<(typeof MEMORY_RUNS)[number], { cell: Cell; label: string }> = {
  'memory-lstm': { cell: 'lstm', label: 'LSTM' },
  'memory-gru': { cell: 'gru', label: 'GRU' },
  'memory-simplernn': { cell: 'simpleRNN', label: 'SimpleRNN' },
};

/** A viewer URL fragment comparing runs. */
export function compareHref(runs: readonly string[], kind: Kind): string {
  return `#/compare?runs=${runs.map(encodeURIComponent).join(',')}&kind=${kind}`;
}

/**
 * The memory set: the same task, data, probe, initial weights and schedule for the three cells, at `seeds`
 * seeds. Seed 1 is the gallery's run ('memory-gru'); seed s ≥ 2 draws other data and initial weights (the
 * probe stays the same), is named 'memory-gru-s2' and carries no gallery entry. Every seed of a cell has
 * the cell's run name as its group.
 */
export function memoryRuns(size: DemoSize, seeds = DEFAULT_MEMORY_SEEDS): DemoRun[] {
  const first = memorySeedOne(size);
  const more = Array.from({ length: Math.max(0, seeds - 1) }, (_, k) =>
    first.map((run) => ({ ...run, name: `${run.name}-s${k + 2}`, seed: k + 2, gallery: [] })),
  );
  return [...first, ...more.flat()];
}

function memorySeedOne(size: DemoSize): DemoRun[] {
  const m = size.memory;
  const T = m.timesteps;
  const half = Math.floor(T / 2);
  const last = m.iterations;
  const flowIterations = [...new Set([...captureAt(last), last])];
  return MEMORY_RUNS.map((name, i) => {
    const { cell, label } = MEMORY_CELLS[name];
    const gallery: GalleryEntry[] = [
      {
        id: `MEM${'abc'[i]}`,
        title: `${label}, ${m.units} units, on the adding problem (T = ${T}): input-gradient flow`,
        lookFor: `Rows: captured iterations; columns: the ${T} timesteps; colour: the norm of d(loss)/d(input) at each timestep over the ${m.probe} probe samples. To predict the sum, the cell must carry the value marked in the first half (timesteps 0–${half - 1}) to the end: a cell that learns it shows gradient reaching the first half; one that does not shows it only near the end.`,
        view: { view: 'flow', layer: 0, kind: 'input-grad', iterations: flowIterations },
        claims: [
          { type: 'loss' },
          { type: 'firstHalf', iterations: flowIterations },
          { type: 'horizon', iterations: flowIterations },
        ],
      },
    ];
    if (i === 0) {
      gallery.unshift({
        id: 'MEM',
        title: `Memory: LSTM vs GRU vs SimpleRNN on the adding problem, T = ${T} (compare)`,
        lookFor: `Each sequence holds ${T} values in (0, 1) and a marker channel flagging one timestep in each half; the target is the sum of the two flagged values, so the answer depends on a timestep at least ${T - half} steps before the end. Always predicting the mean scores MSE ≈ 0.167. The three runs share data, probe, seeds and schedule (${last} Adam steps of ${m.batch}, lr ${m.learningRate}); they differ only in the cell. The compare page lays their loss curves and input-gradient flows side by side.`,
        view: { view: 'flow', layer: 0, kind: 'input-grad', iterations: flowIterations },
        href: compareHref(MEMORY_RUNS, 'input-grad'),
        claims: [{ type: 'memory', runs: [...MEMORY_RUNS], kind: 'input-grad' }],
      });
    }
    return {
      name,
      cell,
      units: m.units,
      bidirectional: false,
      task: 'adding',
      capture: ['input-grad', 'output-grad', 'jacobian'],
      gallery,
      seed: 1,
      group: name,
    };
  });
}

/** Every run of the demo: the See RNN examples, then the memory set (at `seeds` seeds). */
export function demoRuns(size: DemoSize, seeds = DEFAULT_MEMORY_SEEDS): DemoRun[] {
  return [...seedRuns(size), ...memoryRuns(size, seeds)];
}

/** One sentence every seed example carries: what its data is, and its measured probe loss. */
const RANDOM =
  "Trained on See RNN's random data (standard-normal inputs, uniform targets, fresh every 40 iterations): it cannot be learned, so changes between iterations are drift, not learning.";

/** The See RNN examples EX1–EX9, on the seed's random data. */
export function seedRuns(size: DemoSize): DemoRun[] {
  const { small, wide } = size;
  const T = size.timesteps;
  const ex7 = [`ex4-lstm${wide}`, `ex7-gru${wide}`, `ex7-simplernn${wide}`];
  return [
    {
      name: `ex1-lstm${small}`,
      cell: 'lstm',
      units: small,
      bidirectional: false,
      task: 'random',
      capture: ['output-grad', 'output', 'jacobian'],
      gallery: [
        {
          id: 'EX1',
          title: `One sample, uni-LSTM, ${small} units, 20 iterations (1D)`,
          lookFor: `Each panel is one channel: the gradient of the loss reaching the layer output at each of the ${T} timesteps. A layer that uses only recent inputs gets gradient only at the last timesteps; one that uses early inputs gets it further left. ${RANDOM}`,
          view: { view: '1d', layer: 0, kind: 'output-grad', iterations: [20], sample: 0 },
          claims: [{ type: 'recent', iteration: 20 }, { type: 'loss' }],
        },
        {
          id: 'EX2',
          title: `All ${size.samples} samples, 20 iterations (1D and 2D)`,
          lookFor: `The same gradient for every probe sample. In 2D (channels × timesteps per sample) gradient concentrated at the last timesteps is a band of colour at the right edge. ${RANDOM}`,
          view: { view: '2d', layer: 0, kind: 'output-grad', iterations: [20], rows: 4 },
          claims: [{ type: 'recent', iteration: 20 }],
        },
        {
          id: 'EX3',
          title: `All samples, 20 vs 200 vs 400 iterations`,
          lookFor: `Side by side on one colour scale: if the colour band widens to the left with training, gradients reach further back. The gradient-flow view shows the memory horizon (the earliest timestep whose gradient norm is at least 1% of the largest). ${RANDOM}`,
          view: {
            view: '2d',
            layer: 0,
            kind: 'output-grad',
            iterations: [20, 200, 400],
            rows: 4,
          },
          claims: [{ type: 'horizon', iterations: [20, 200, 400] }],
        },
        {
          id: 'EX6',
          title: 'returnSequences false (0D), 200 iterations',
          lookFor: `The last-step layer has one gradient per sample and channel (though derived from all timesteps). Channels are colour-graded; points far from the zero line mark the samples the loss pulls on hardest. ${RANDOM}`,
          view: { view: '0d', layer: 1, kind: 'output-grad', iterations: [200] },
          claims: [{ type: 'range', iteration: 200 }],
        },
        {
          id: 'EX8',
          title: `LSTM activations at 20 and 400 iterations`,
          lookFor: `The layer outputs themselves (tanh-bounded, in (−1, 1)). Saturated channels (deep red/blue everywhere) pass little gradient; compare with the gradients of EX3. ${RANDOM}`,
          view: { view: '2d', layer: 0, kind: 'output', iterations: [20, 400], rows: 4 },
          claims: [{ type: 'saturation', iterations: [20, 400] }],
        },
      ],
    },
    {
      name: `ex4-lstm${wide}`,
      cell: 'lstm',
      units: wide,
      bidirectional: false,
      task: 'random',
      capture: ['output-grad', 'jacobian'],
      gallery: [
        {
          id: 'EX4',
          title: `Uni-LSTM, ${wide} units, 200 iterations: 2D vs 1D`,
          lookFor: `With many channels the 1D view becomes a tangle; the 2D view of one sample (channels × ${T} timesteps) shows at a glance which channels carry gradient how far back. With more units the same loss gradient is spread over more channels, so each one's norm is smaller. ${RANDOM}`,
          view: { view: '2d', layer: 0, kind: 'output-grad', iterations: [200], sample: 0 },
          claims: [{ type: 'channels', iteration: 200 }],
        },
        {
          id: 'EX7a',
          title: `LSTM, ${wide} units (EX7: LSTM vs GRU vs SimpleRNN)`,
          lookFor: `The gradient flow of the LSTM; the GRU and SimpleRNN runs are trained with the same settings, and the compare page shows the three side by side. ${RANDOM}`,
          view: { view: 'flow', layer: 0, kind: 'output-grad', iterations: [20, 200, 400] },
          href: compareHref(ex7, 'output-grad'),
          claims: [{ type: 'horizon', iterations: [20, 200, 400] }, { type: 'loss' }],
        },
      ],
    },
    {
      name: `ex5-bigru${wide}`,
      cell: 'gru',
      units: wide,
      bidirectional: true,
      task: 'random',
      capture: ['output-grad', 'jacobian'],
      gallery: [
        {
          id: 'EX5',
          title: `Bidirectional GRU, ${wide} units per direction, 400 iterations (reflect_half)`,
          lookFor: `Top half: the forward direction, bottom half: the backward one (drawn mirrored), both in input time order. Both halves feed the next GRU, which reads left to right; where the halves differ shows how the next layer uses each direction. ${RANDOM}`,
          view: {
            view: '2d',
            layer: 0,
            kind: 'output-grad',
            iterations: [400],
            sample: 0,
            reflectHalf: true,
          },
          claims: [{ type: 'parts', iteration: 400 }, { type: 'loss' }],
        },
      ],
    },
    {
      name: `ex7-gru${wide}`,
      cell: 'gru',
      units: wide,
      bidirectional: false,
      task: 'random',
      capture: ['output-grad', 'jacobian'],
      gallery: [
        {
          id: 'EX7b',
          title: `GRU, ${wide} units (EX7)`,
          lookFor: `Same task and settings as the LSTM and SimpleRNN runs. ${RANDOM}`,
          view: { view: 'flow', layer: 0, kind: 'output-grad', iterations: [20, 200, 400] },
          claims: [{ type: 'horizon', iterations: [20, 200, 400] }, { type: 'loss' }],
        },
      ],
    },
    {
      name: `ex7-simplernn${wide}`,
      cell: 'simpleRNN',
      units: wide,
      bidirectional: false,
      task: 'random',
      capture: ['output-grad', 'jacobian'],
      gallery: [
        {
          id: 'EX7c',
          title: `SimpleRNN, ${wide} units (EX7)`,
          lookFor: `The plain RNN has no gates: on a task that needs long memory its gradient vanishes going back in time (see MEMc for one). On ${T} timesteps of random data there is no such dependency to find. ${RANDOM}`,
          view: { view: 'flow', layer: 0, kind: 'output-grad', iterations: [20, 200, 400] },
          claims: [{ type: 'horizon', iterations: [20, 200, 400] }, { type: 'loss' }],
        },
      ],
    },
    {
      name: `ex9-bilstm${size.weights}-weights`,
      cell: 'lstm',
      units: size.weights,
      bidirectional: true,
      task: 'random',
      capture: ['output-grad', 'weight', 'weight-grad', 'jacobian'],
      gallery: [
        {
          id: 'EX9',
          title: `Bidirectional LSTM weights per gate (${size.weights} units per direction)`,
          lookFor: `Kernel, recurrent kernel and bias of each direction split into the input, forget, cell and output gates. The non-finite detector counts NaN/Inf in every snapshot and flags the run when weights or gradients blow up. ${RANDOM}`,
          view: { view: '2d', layer: 0, kind: 'weight', iterations: [20, 400], part: 'forward/kernel/f' },
          claims: [{ type: 'nonFinite' }],
        },
      ],
    },
  ];
}
