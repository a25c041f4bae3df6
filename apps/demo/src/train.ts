// Trains one demo run. See RNN examples: RNN(units, return_sequences) → RNN(units), Adam(4e-3), MSE on
// standard-normal inputs and uniform(−1, 1) targets, fresh data every `freshEvery` iterations. Memory set:
// RNN(units) → Dense(1) on the adding problem, a fresh seeded batch every step, the same for every cell.
import { type GradientCallback, gradientCallback, KINDS, type Sink } from '@gradscope/capture';
import * as tf from '@tensorflow/tfjs';
import { addingProblem, meanPredictorMse } from './adding.js';
import { captureAt, type DemoRun, type DemoSize } from './examples.js';
import { fitFresh } from './fit.js';

export interface TrainProgress {
  run: string;
  iteration: number;
  snapshots: number;
  dropped: number;
}

export interface TrainOptions {
  run: DemoRun;
  size: DemoSize;
  sink: Sink;
  seed: number;
  onProgress: (p: TrainProgress) => void;
  /** Polled between iterations: true stops training after the current step. */
  shouldStop: () => boolean;
}

function recurrent(
  cell: DemoRun['cell'],
  units: number,
  returnSequences: boolean,
  seed: number,
  inputShape?: number[],
) {
  return tf.layers[cell]({
    units,
    returnSequences,
    ...(inputShape ? { inputShape } : {}),
    activation: 'tanh',
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
    // tfjs's orthogonal initializer takes minutes for large layers; Glorot keeps --full startable.
    recurrentInitializer:
      units > 64
        ? tf.initializers.glorotUniform({ seed: seed + 1 })
        : tf.initializers.orthogonal({ seed: seed + 1 }),
  });
}

export function buildModel(run: DemoRun, size: DemoSize, seed: number): tf.LayersModel {
  const model = tf.sequential({ name: run.name.replace(/[^a-zA-Z0-9_]/g, '_') });
  const inputShape = [size.timesteps, 2 * run.units];
  model.add(
    run.bidirectional
      ? tf.layers.bidirectional({
          layer: recurrent(run.cell, run.units, true, seed) as never,
          mergeMode: 'concat',
          inputShape,
        })
      : recurrent(run.cell, run.units, true, seed, inputShape),
  );
  model.add(recurrent(run.cell, run.units, false, seed + 2));
  model.compile({ optimizer: tf.train.adam(4e-3), loss: 'meanSquaredError' });
  return model;
}

function batch(run: DemoRun, size: DemoSize, seed: number) {
  return {
    x: tf.randomNormal([size.samples, size.timesteps, 2 * run.units], 0, 1, 'float32', seed),
    y: tf.randomUniform([size.samples, run.units], -1, 1, 'float32', seed + 1),
  };
}

/** Seed of the memory set's data, probe and initial weights: the same for the three cells. */
export const MEMORY_SEED = 2026;

/**
 * The seed of a memory run's data stream and initial weights: MEMORY_SEED at seed 1, then a prime apart per
 * seed (the probe's seed, MEMORY_SEED + 1,000,003, stays the same for every seed).
 */
export const memorySeed = (run: DemoRun) => MEMORY_SEED + 7919 * ((run.seed ?? 1) - 1);

/** The memory set's model: one recurrent layer (last step only) → Dense(1). */
export function buildMemoryModel(run: DemoRun, size: DemoSize): tf.LayersModel {
  const m = size.memory;
  const seed = memorySeed(run);
  const model = tf.sequential({ name: run.name.replace(/[^a-zA-Z0-9_]/g, '_') });
  model.add(
    tf.layers[run.cell]({
      units: m.units,
      inputShape: [m.timesteps, 2],
      activation: 'tanh',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }),
      // Keras's gate activation (tfjs defaults to its hardSigmoid, which differs from Keras's).
      ...(run.cell === 'simpleRNN' ? {} : { recurrentActivation: 'sigmoid' }),
    }),
  );
  model.add(
    tf.layers.dense({
      units: 1,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }),
    }),
  );
  if (run.cell === 'lstm') {
    // Bias layout [input, forget, cell, output] gates: open the forget gate so the cell state keeps the
    // first marked value for T/2 steps from the start (sigmoid(3) ≈ 0.95 per step vs 0.5 at bias 0).
    const rnn = model.layers[0]!;
    const [kernel, recurrentKernel] = rnn.getWeights();
    const bias = new Float32Array(4 * m.units).fill(m.forgetBias, m.units, 2 * m.units);
    const b = tf.tensor1d(bias);
    rnn.setWeights([kernel!, recurrentKernel!, b]);
    b.dispose();
  }
  model.compile({ optimizer: tf.train.adam(m.learningRate), loss: 'meanSquaredError' });
  return model;
}

function addingBatch(samples: number, timesteps: number, seed: number) {
  const d = addingProblem(samples, timesteps, seed);
  return { x: tf.tensor3d(d.x, [samples, timesteps, 2]), y: tf.tensor2d(d.y, [samples, 1]), targets: d.y };
}

/** Kinds this capture build knows (input-grad arrived with it), in the run's order. */
const known = (kinds: DemoRun['capture']) => kinds.filter((k) => (KINDS as readonly string[]).includes(k));

function progressCallback(
  run: DemoRun,
  callback: GradientCallback,
  model: tf.LayersModel,
  onProgress: TrainOptions['onProgress'],
  shouldStop: TrainOptions['shouldStop'],
) {
  return new tf.CustomCallback({
    onBatchEnd: async () => {
      onProgress({
        run: run.name,
        iteration: callback.iteration,
        snapshots: callback.stats.written,
        dropped: callback.stats.dropped,
      });
      if (shouldStop()) model.stopTraining = true;
    },
  });
}

/** Gallery entries as stored: each view's layer index replaced by the layer's name. */
function storedGallery(run: DemoRun, model: tf.LayersModel) {
  return run.gallery.map((g) => ({
    ...g,
    explain: g.lookFor,
    view: { ...g.view, layer: model.layers[Number(g.view.layer)]!.name },
  }));
}

async function trainMemory({ run, size, sink, onProgress, shouldStop }: TrainOptions): Promise<void> {
  const m = size.memory;
  const model = buildMemoryModel(run, size);
  const probe = addingBatch(m.probe, m.timesteps, MEMORY_SEED + 1_000_003);
  const callback = gradientCallback({
    every: m.every,
    at: captureAt(m.iterations),
    probe: { x: probe.x, y: probe.y },
    capture: known(run.capture),
    sink,
    // The demo fits in chunks (fresh data): the doctor's table at the end says it once for every run.
    verbose: 0,
    runName: run.name,
    ...(run.group !== undefined ? { group: run.group } : {}),
    params: { task: 'adding', seed: run.seed ?? 1 },
    runMeta: {
      demo: size.name,
      set: 'memory',
      description:
        run.gallery.length > 0
          ? `${run.gallery.at(-1)!.title}: same data, probe and schedule as the other memory runs`
          : `${run.group ?? run.name} at seed ${run.seed}: other data and initial weights, the same probe and schedule`,
      gallery: storedGallery(run, model),
      task: {
        name: 'adding',
        timesteps: m.timesteps,
        meanPredictorMse: meanPredictorMse(probe.targets),
        text: `adding problem: ${m.timesteps} timesteps × (value, marker), target = sum of the 2 marked values; ${run.cell}(${m.units}) → Dense(1), Adam(${m.learningRate}), batch ${m.batch}, ${m.iterations} steps, MSE${run.cell === 'lstm' ? `, forget-gate bias ${m.forgetBias}` : ''}`,
      },
    },
  });
  const progress = progressCallback(run, callback, model, onProgress, shouldStop);
  // A fresh batch every step, generated a chunk of steps at a time (seeded: the same for every cell).
  await fitFresh(model, {
    steps: m.iterations,
    batch: m.batch,
    data: (samples, done) => addingBatch(samples, m.timesteps, memorySeed(run) + done),
    callbacks: [callback, progress],
    shouldStop,
  });
  tf.dispose([probe.x, probe.y]);
  model.dispose();
}

export async function trainRun(options: TrainOptions): Promise<void> {
  if (options.run.task === 'adding') return trainMemory(options);
  const { run, size, sink, seed, onProgress, shouldStop } = options;
  const model = buildModel(run, size, seed);
  const probe = batch(run, size, seed + 1000);
  const callback = gradientCallback({
    every: size.every,
    at: captureAt(size.iterations),
    probe,
    capture: known(run.capture),
    sink,
    // The demo fits in chunks (fresh data): the doctor's table at the end says it once for every run.
    verbose: 0,
    runName: run.name,
    params: { task: 'random' },
    runMeta: {
      demo: size.name,
      set: 'see-rnn',
      description: run.gallery.map((g) => g.title).join(' · '),
      gallery: storedGallery(run, model),
      task: {
        name: 'random',
        text: `RNN(${run.units}) → RNN(${run.units}), ${size.samples}×${size.timesteps}×${2 * run.units} standard-normal inputs, uniform(−1, 1) targets, fresh every ${size.freshEvery} iterations (nothing to learn), Adam(4e-3), MSE`,
      },
    },
  });
  const progress = progressCallback(run, callback, model, onProgress, shouldStop);
  for (let done = 0; done < size.iterations && !shouldStop(); done += size.freshEvery) {
    const { x, y } = batch(run, size, seed + done);
    // One batch of all samples: each epoch is one optimizer step on the same data (trainOnBatch style).
    await model.fit(x, y, {
      epochs: Math.min(size.freshEvery, size.iterations - done),
      batchSize: size.samples,
      shuffle: false,
      verbose: 0,
      callbacks: [callback, progress],
    });
    tf.dispose([x, y]);
  }
  tf.dispose([probe.x, probe.y]);
  model.dispose();
}
