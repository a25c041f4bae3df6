// Training on fresh data: a chunk of optimizer steps' batches generated at a time (seeded), one step per batch.
import * as tf from '@tensorflow/tfjs';

/**
 * Fits `model` for `steps` optimizer steps of `batch` samples each, on data generated a chunk of up to `chunk`
 * steps at a time: `data(samples, done)` gives the chunk's `samples` (its steps × `batch`) from step `done` on,
 * fitted as one epoch, unshuffled, then disposed. Stops before the next chunk once `shouldStop()` says so.
 */
export async function fitFresh(
  model: tf.LayersModel,
  o: {
    steps: number;
    batch: number;
    data: (samples: number, done: number) => { x: tf.Tensor; y: tf.Tensor };
    callbacks: tf.ModelFitArgs['callbacks'];
    chunk?: number;
    shouldStop?: () => boolean;
  },
): Promise<void> {
  const chunk = o.chunk ?? 100;
  for (let done = 0; done < o.steps && !o.shouldStop?.(); done += chunk) {
    const steps = Math.min(chunk, o.steps - done);
    const { x, y } = o.data(steps * o.batch, done);
    await model.fit(x, y, {
      epochs: 1,
      batchSize: o.batch,
      shuffle: false,
      verbose: 0,
      callbacks: o.callbacks,
    });
    tf.dispose([x, y]);
  }
}
