// Trains one demo run as in See RNN: RNN(units, return_sequences) → RNN(units), Adam(4e-3), MSE on
// standard-normal inputs and uniform(−1, 1) targets, fresh data every `freshEvery` iterations.
import { gradientCallback, type Sink } from '@gradscope/capture';
import * as tf from '@tensorflow/tfjs';
import type { DemoRun, DemoSize } from './examples.js';

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

export async function trainRun({
  run,
  size,
  sink,
  seed,
  onProgress,
  shouldStop,
}: TrainOptions): Promise<void> {
  const model = buildModel(run, size, seed);
  const probe = batch(run, size, seed + 1000);
  const callback = gradientCallback({
    every: size.every,
    at: [20, 200, 400].filter((i) => i <= size.iterations),
    probe,
    capture: run.capture,
    sink,
    runName: run.name,
    runMeta: {
      demo: size.name,
      description: run.gallery.map((g) => g.title).join(' · '),
      gallery: run.gallery.map((g) => ({
        ...g,
        view: { ...g.view, layer: model.layers[Number(g.view.layer)]!.name },
      })),
      task: `RNN(${run.units}) → RNN(${run.units}), ${size.samples}×${size.timesteps}×${2 * run.units} inputs, Adam(4e-3), MSE`,
    },
  });
  const progress = new tf.CustomCallback({
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
