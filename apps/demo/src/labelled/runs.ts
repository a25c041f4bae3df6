// The labelled benchmark's runs: training runs on delayed recall (tasks.ts) whose truth is known. The truth
// of a run is the task's dependency lag together with its measured outcome (final probe loss ÷ the constant
// predictor's loss on the probe), never its cell type: a GRU that stays at the constant predictor is
// not-learning, a SimpleRNN that recalls a value 40 timesteps back is learning-long. Every initializer, the
// data and the probe are seeded, training is Adam with `shuffle: false`, so a run's outcome is the same on
// every run of this machine; each configuration was chosen for an outcome far from the boundaries (ratio
// < 0.3 or > 0.7; measured figures in docs/benchmarks.md and runs.test.ts).
import {
  type GradientCallback,
  type GradientCallbackArgs,
  gradientCallback,
  KINDS,
  type Kind,
  type Sink,
} from '@gradscope/capture';
import * as tf from '@tensorflow/tfjs';
import { fitFresh } from '../fit.js';
import { CHANNELS, constantPredictorMse, delayedRecall, lagRange, type RecallTask } from './tasks.js';

export type Cell = 'simpleRNN' | 'lstm' | 'gru';
export type Verdict = 'learning-long' | 'learning-short' | 'not-learning' | 'insufficient-data';
export type Cause = 'vanishing' | 'exploding' | 'non-finite' | 'saturated' | 'dead-units';

/** An outcome ratio below this is learned, above NOT_LEARNED_ABOVE not learned; between, no truth. */
export const LEARNED_BELOW = 0.3;
export const NOT_LEARNED_ABOVE = 0.7;
/** A dependency is short when every lag is at most this many timesteps. */
export const SHORT_LAG = 3;
/** A dependency is long when every lag is at least this many timesteps, or half the sequence when shorter. */
export const LONG_LAG = 40;

export interface LabelledRun {
  name: string;
  /** Why this run is in the benchmark, in words. */
  about: string;
  cell: Cell;
  units: number;
  /** One recurrent layer, a Bidirectional one (concat), or two stacked (the first returning sequences). */
  layout: 'single' | 'bidirectional' | 'stacked';
  task: RecallTask;
  learningRate: number;
  steps: number;
  batch: number;
  /** Seed of every initializer (kernel seed, recurrent seed + 1, dense seed + 2, second layer + 10). */
  seed: number;
  /** Seed of the training data (the probe's is fixed per size). */
  dataSeed: number;
  /** Samples of the fixed probe batch. */
  probe: number;
  /** Capture every N steps (besides 0 and the last step). */
  every: number;
  /**
   * Initial bias of the gate that keeps the state: an LSTM's forget gate, a GRU's update gate (tfjs's
   * default is 0: half the state forgotten each step).
   */
  keepBias?: number;
  /** Gate activation of LSTM and GRU (default sigmoid, as Keras; tfjs's own default is hardSigmoid). */
  recurrentActivation?: 'sigmoid' | 'hardSigmoid';
  /** Activation of the recurrent cell (default tanh). */
  activation?: 'tanh' | 'relu';
  /** Constant bias of the recurrent layer at initialisation (default 0). */
  bias?: number;
  /** Normal(0, stddev) kernel and recurrent kernel instead of Glorot and orthogonal (a saturating init). */
  initStddev?: { kernel: number; recurrent: number };
  /** Gain of the orthogonal recurrent kernel (default 1). */
  recurrentGain?: number;
  capture: Kind[];
  /**
   * The outcome this configuration was chosen for, and the causes a right diagnosis names; absent for a run
   * chosen for no outcome (a sweep's: its truth is the lag and what it measures).
   */
  expect?: { learns: boolean; causes: Cause[] };
}

/** The capture a labelled run records unless it needs more: what the diagnosis reads. */
export const BASE_CAPTURE: Kind[] = ['output-grad', 'input-grad', 'jacobian'];
/** With the kinds the saturation and dead-unit causes need. */
export const FULL_CAPTURE: Kind[] = [...BASE_CAPTURE, 'output', 'weight-grad'];

/** The truth of a run: its task's lag and its measured outcome ratio (NaN: diverged, not learning). */
export function truthOf(task: RecallTask, ratio: number): Verdict | 'unclear' {
  if (task.independent) return 'not-learning';
  if (!Number.isFinite(ratio) || ratio > NOT_LEARNED_ABOVE) return 'not-learning';
  if (ratio >= LEARNED_BELOW) return 'unclear';
  const lag = lagRange(task);
  if (lag.max <= SHORT_LAG) return 'learning-short';
  if (lag.min >= Math.min(LONG_LAG, task.timesteps / 2)) return 'learning-long';
  return 'unclear';
}

function recurrentLayer(run: LabelledRun, returnSequences: boolean, seed: number, inputShape?: number[]) {
  const init = run.initStddev;
  const gated = run.cell !== 'simpleRNN';
  return tf.layers[run.cell]({
    units: run.units,
    returnSequences,
    ...(inputShape ? { inputShape } : {}),
    activation: run.activation ?? 'tanh',
    // Keras's gate activation (tfjs defaults to its hardSigmoid).
    ...(gated ? { recurrentActivation: run.recurrentActivation ?? 'sigmoid' } : {}),
    kernelInitializer: init
      ? tf.initializers.randomNormal({ mean: 0, stddev: init.kernel, seed })
      : tf.initializers.glorotUniform({ seed }),
    recurrentInitializer: init
      ? tf.initializers.randomNormal({ mean: 0, stddev: init.recurrent, seed: seed + 1 })
      : tf.initializers.orthogonal({ seed: seed + 1, gain: run.recurrentGain ?? 1 }),
    biasInitializer: tf.initializers.constant({ value: run.bias ?? 0 }),
  });
}

/**
 * Sets the bias of the gate that keeps the state in every direction of a recurrent layer: bias layout
 * [input, forget, cell, output] for an LSTM (the forget gate, second), [update, reset, candidate] for a GRU
 * (h = z·h_prev + (1 − z)·candidate: the update gate, first).
 */
function setKeepBias(layer: tf.layers.Layer, cell: Cell, units: number, value: number): void {
  const gate = cell === 'lstm' ? 1 : 0;
  const made: tf.Tensor[] = [];
  const weights = layer.getWeights().map((w) => {
    if (w.rank !== 1) return w;
    const b = w.dataSync().slice();
    b.fill(value, gate * units, (gate + 1) * units);
    made.push(tf.tensor1d(b));
    return made.at(-1)!;
  });
  layer.setWeights(weights);
  tf.dispose(made);
}

/** The run's model: recurrent layer(s) → Dense(1), Adam(learningRate), MSE. */
export function buildLabelledModel(run: LabelledRun): tf.LayersModel {
  const inputShape = [run.task.timesteps, CHANNELS];
  const model = tf.sequential({ name: run.name.replace(/[^a-zA-Z0-9_]/g, '_') });
  if (run.layout === 'bidirectional') {
    model.add(
      tf.layers.bidirectional({
        layer: recurrentLayer(run, false, run.seed) as never,
        mergeMode: 'concat',
        inputShape,
      }),
    );
  } else if (run.layout === 'stacked') {
    model.add(recurrentLayer(run, true, run.seed, inputShape));
    model.add(recurrentLayer(run, false, run.seed + 10));
  } else {
    model.add(recurrentLayer(run, false, run.seed, inputShape));
  }
  model.add(
    tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: run.seed + 2 }) }),
  );
  if (run.keepBias !== undefined) {
    if (run.cell === 'simpleRNN') throw new Error(`${run.name}: keepBias is for LSTM and GRU layers`);
    for (const layer of model.layers.slice(0, run.layout === 'stacked' ? 2 : 1))
      setKeepBias(layer, run.cell, run.units, run.keepBias);
  }
  model.compile({ optimizer: tf.train.adam(run.learningRate), loss: 'meanSquaredError' });
  return model;
}

/** Seed of every probe: the same probe for every run of a task. */
export const PROBE_SEED = 4_242_424;

function tensors(samples: number, task: RecallTask, seed: number) {
  const d = delayedRecall(samples, task, seed);
  return {
    x: tf.tensor3d(d.x, [samples, task.timesteps, CHANNELS]),
    y: tf.tensor2d(d.y, [samples, 1]),
    targets: d.y,
  };
}

export interface LabelledResult {
  name: string;
  runId: string;
  /** Probe MSE of the constant predictor (the targets' variance). */
  baseline: number;
  /** Probe MSE ÷ baseline before training and after the last step. */
  initialRatio: number;
  ratio: number;
  truth: Verdict | 'unclear';
  /** Training wall time, capture included. */
  ms: number;
  dropped: number;
}

async function probeMse(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<number> {
  const loss = model.evaluate(x, y, { batchSize: x.shape[0] }) as tf.Scalar;
  const v = (await loss.data())[0]!;
  loss.dispose();
  return v;
}

/** Kinds this capture build records, in the run's order (jacobian arrives with the diagnosis). */
const known = (kinds: Kind[]) => kinds.filter((k) => (KINDS as readonly string[]).includes(k));

/**
 * What a store records of a run's truth (its `meta.labelled`): the run's configuration and lag, and once
 * trained the measured outcome (ratio null when the loss was not finite), its truth and training time.
 */
export function truthMeta(
  run: LabelledRun,
  result?: Pick<LabelledResult, 'baseline' | 'initialRatio' | 'ratio' | 'truth' | 'ms'>,
) {
  return {
    set: 'labelled',
    run,
    lag: lagRange(run.task),
    ...(result
      ? {
          baseline: result.baseline,
          initialRatio: result.initialRatio,
          ratio: Number.isFinite(result.ratio) ? result.ratio : null,
          truth: result.truth,
          seconds: result.ms / 1000,
        }
      : {}),
  };
}

/**
 * Trains one labelled run, recording into `sink` (a store: the measured truth is written into the run's
 * meta with `updateRunMeta` when it has one). Snapshots at 0, every `every` steps and the last step.
 */
export async function trainLabelled(
  run: LabelledRun,
  sink: Sink & { updateRunMeta?: (run: string, meta: Record<string, unknown>) => Promise<void> },
  /** More options of the callback (e.g. verbose). */
  extra: Partial<GradientCallbackArgs> = {},
): Promise<LabelledResult> {
  const model = buildLabelledModel(run);
  const probe = tensors(run.probe, run.task, PROBE_SEED);
  const baseline = constantPredictorMse(probe.targets);
  const initialRatio = (await probeMse(model, probe.x, probe.y)) / baseline;
  const callback: GradientCallback = gradientCallback({
    every: run.every,
    at: [0, run.steps],
    probe: { x: probe.x, y: probe.y },
    capture: known(run.capture),
    sink,
    runName: run.name,
    runMeta: { labelled: truthMeta(run) },
    ...extra,
  });
  const t0 = performance.now();
  // Training data generated a chunk of steps at a time (seeded), one optimizer step per batch.
  await fitFresh(model, {
    steps: run.steps,
    batch: run.batch,
    data: (samples, done) => tensors(samples, run.task, run.dataSeed * 1_000_003 + done),
    callbacks: [callback],
  });
  const ms = performance.now() - t0;
  const ratio = (await probeMse(model, probe.x, probe.y)) / baseline;
  const truth = truthOf(run.task, ratio);
  const result = {
    name: run.name,
    runId: callback.runId,
    baseline,
    initialRatio,
    ratio,
    truth,
    ms,
    dropped: callback.stats.dropped,
  };
  await sink.updateRunMeta?.(callback.runId, { labelled: truthMeta(run, result) });
  tf.dispose([probe.x, probe.y]);
  model.dispose();
  return result;
}

/** A dependency of 40–47 timesteps: the cue in the first 8 of 48 timesteps. */
export const LONG: RecallTask = { timesteps: 48, cue: { first: 0, last: 7 } };
/** A dependency of 0–3 timesteps: the cue in the last 4 of 48. */
export const SHORT: RecallTask = { timesteps: 48, cue: { first: 44, last: 47 } };
/**
 * For a Bidirectional layer: the cue in the middle (timesteps 40–47 of 88), 40–47 timesteps from the last
 * step of either direction (forward: T − 1; backward: 0), so neither direction can recall it from nearby.
 */
export const LONG_BOTH_WAYS: RecallTask = { timesteps: 88, cue: { first: 40, last: 47 } };

/** Steps of the LSTM stopped before it learns (measured: still ≥ 0.8× the constant predictor there). */
const STOPPED_STEPS = 10;

const common = { units: 16, batch: 64, dataSeed: 1, probe: 256, every: 100, learningRate: 5e-3 } as const;

/**
 * The full-size runs, each with the outcome it was chosen for (measured on this machine: see
 * docs/benchmarks.md). Seeds matter: the same SimpleRNN learns the long dependency at seed 1 and not at 2.
 */
export const FULL_RUNS: LabelledRun[] = [
  {
    ...common,
    name: 'simplernn-long-learns',
    about: 'a SimpleRNN that learns a 40–47 step dependency (seed 1)',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    steps: 600,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'simplernn-long-fails',
    about:
      'the same SimpleRNN and data at seed 2: never leaves the constant predictor, yet at step 500 its input gradient at t = 0 is 4% of its peak (above the old 1% horizon line)',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    steps: 500,
    seed: 2,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'simplernn-long-fails-seed3',
    about:
      'the same SimpleRNN at seed 3: stays at the constant predictor, its input gradient at t = 0 ~1e-4 of its peak',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    steps: 600,
    seed: 3,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'simplernn-short-learns',
    about: 'the seed-2 SimpleRNN that fails at lag ≥ 40 learns a 0–3 step dependency',
    cell: 'simpleRNN',
    layout: 'single',
    task: SHORT,
    steps: 300,
    seed: 2,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'gru-long-learns',
    about: 'a GRU whose update gate starts closed (bias 2: the state kept) learns the 40–47 step dependency',
    cell: 'gru',
    layout: 'single',
    task: LONG,
    keepBias: 2,
    steps: 300,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'gru-long-fails',
    about: "the same GRU with tfjs's update-gate bias 0 stays at the constant predictor",
    cell: 'gru',
    layout: 'single',
    task: LONG,
    steps: 400,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'gru-short-learns',
    about: 'that GRU (bias 0) learns a 0–3 step dependency',
    cell: 'gru',
    layout: 'single',
    task: SHORT,
    steps: 200,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'lstm-long-learns',
    about: 'an LSTM with its forget gate open (bias 3) learns the 40–47 step dependency',
    cell: 'lstm',
    layout: 'single',
    task: LONG,
    keepBias: 3,
    steps: 300,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'lstm-long-fails',
    about: "the same LSTM with tfjs's forget-gate bias 0 stays at the constant predictor",
    cell: 'lstm',
    layout: 'single',
    task: LONG,
    steps: 400,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'lstm-stopped-early',
    about:
      'the learning LSTM (forget bias 3) at Adam 3e-4, stopped before it learns: its gradient reaches t = 0',
    cell: 'lstm',
    layout: 'single',
    task: LONG,
    keepBias: 3,
    learningRate: 3e-4,
    steps: STOPPED_STEPS,
    every: 5,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'bigru-long-learns',
    about: 'a Bidirectional GRU (update-gate bias 2) learns a cue 40–47 steps from either end',
    cell: 'gru',
    layout: 'bidirectional',
    task: LONG_BOTH_WAYS,
    keepBias: 2,
    steps: 300,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'bigru-long-fails',
    about: 'the same Bidirectional GRU with bias 0 stays at the constant predictor',
    cell: 'gru',
    layout: 'bidirectional',
    task: LONG_BOTH_WAYS,
    steps: 300,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'gru-stacked-learns',
    about:
      'two stacked GRUs (bias 2) learn the 40–47 step dependency; either layer may carry the value across the lag',
    cell: 'gru',
    layout: 'stacked',
    task: LONG,
    keepBias: 2,
    steps: 300,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...common,
    name: 'gru-independent-targets',
    about: 'the learning GRU (bias 2) on targets drawn independently of the inputs: nothing to learn',
    cell: 'gru',
    layout: 'single',
    task: { ...LONG, independent: true },
    keepBias: 2,
    steps: 300,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...common,
    name: 'simplernn-nan',
    about: 'a ReLU SimpleRNN at Adam 5: NaN within 5 steps',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    activation: 'relu',
    learningRate: 5,
    steps: 100,
    every: 25,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: false, causes: ['non-finite'] },
  },
  {
    ...common,
    name: 'simplernn-explodes',
    about: 'a ReLU SimpleRNN with recurrent gain 2 at Adam 0.5: the loss explodes (finite)',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    activation: 'relu',
    recurrentGain: 2,
    learningRate: 0.5,
    steps: 100,
    every: 25,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: false, causes: ['exploding'] },
  },
  {
    ...common,
    name: 'simplernn-saturated',
    about: 'a SimpleRNN initialised with Normal(0, 3) kernels: tanh saturates and it does not learn',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    initStddev: { kernel: 3, recurrent: 3 },
    steps: 300,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: false, causes: ['saturated'] },
  },
  {
    ...common,
    name: 'simplernn-dead',
    about: 'a ReLU SimpleRNN with bias −3: every unit dead from the start',
    cell: 'simpleRNN',
    layout: 'single',
    task: LONG,
    activation: 'relu',
    bias: -3,
    steps: 200,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: false, causes: ['dead-units'] },
  },
];

/**
 * The test suite's tiny runs (T = 16: long is a lag of 14–15, short 0–1), each a few seconds on wasm. At
 * lag 0–2 a SimpleRNN-8 after 100–300 steps still drew 8–20% of its input gradient from beyond T/2 (its
 * state keeps what the noise channel fed it; measured); at lag 0–1 it draws 0.01%.
 */
const TINY_LONG: RecallTask = { timesteps: 16, cue: { first: 0, last: 1 } };
const TINY_SHORT: RecallTask = { timesteps: 16, cue: { first: 14, last: 15 } };
const tiny = { units: 8, batch: 32, dataSeed: 1, probe: 64, every: 50, learningRate: 1e-2 } as const;

export const TINY_RUNS: LabelledRun[] = [
  {
    ...tiny,
    name: 'tiny-long-learns',
    about: 'a SimpleRNN-8 that learns a 14–15 step dependency',
    cell: 'simpleRNN',
    layout: 'single',
    task: TINY_LONG,
    steps: 150,
    seed: 2,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...tiny,
    name: 'tiny-short-learns',
    about: 'a SimpleRNN-8 whose recurrent kernel starts near zero (gain 0.01) learns a 0–1 step dependency',
    cell: 'simpleRNN',
    layout: 'single',
    task: TINY_SHORT,
    recurrentGain: 0.01,
    steps: 100,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: true, causes: [] },
  },
  {
    ...tiny,
    name: 'tiny-independent',
    about: 'targets independent of the inputs: nothing to learn',
    cell: 'simpleRNN',
    layout: 'single',
    task: { ...TINY_LONG, independent: true },
    steps: 100,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...tiny,
    name: 'tiny-lstm-stopped',
    about: 'an LSTM with its forget gate open (bias 3), stopped after 10 steps, before it learns',
    cell: 'lstm',
    layout: 'single',
    task: TINY_LONG,
    keepBias: 3,
    steps: 10,
    every: 5,
    seed: 1,
    capture: BASE_CAPTURE,
    expect: { learns: false, causes: [] },
  },
  {
    ...tiny,
    name: 'tiny-diverges',
    about: 'a ReLU SimpleRNN at Adam 5: the loss explodes',
    cell: 'simpleRNN',
    layout: 'single',
    task: TINY_LONG,
    activation: 'relu',
    learningRate: 5,
    steps: 30,
    every: 10,
    seed: 1,
    capture: FULL_CAPTURE,
    expect: { learns: false, causes: ['exploding'] },
  },
];
