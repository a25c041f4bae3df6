// The loss baseline: the compiled loss of the best constant prediction on the probe, the line a model must
// cross before it has learned anything from its inputs. A model whose loss falls from 2.2× to 0.84× of it has
// fallen a lot and learned nothing yet.
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './capture.js';
import { coreModel, type Model } from './layers.js';

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The name of a tfjs-layers loss function, as describeModel records it (bundlers may add `$N`). */
export function lossName(fn: { name: string }): string {
  return fn.name.replace(/\$\d+$/, '');
}

/**
 * The best constant prediction for one output under its loss, broadcast over the samples: the (weighted)
 * mean for squared error and the cross-entropies (class frequencies for the sparse one), the median for
 * absolute error. undefined for any other loss.
 */
function bestConstant(
  name: string,
  y: tf.Tensor,
  outputShape: (number | null)[],
  weights: tf.Tensor | undefined,
): tf.Tensor | undefined {
  return tf.tidy(() => {
    const n = y.shape[0]!;
    const w = weights === undefined ? tf.ones([n]) : weights.toFloat();
    const weightedMean = (t: tf.Tensor) =>
      tf.div(tf.sum(tf.mul(t, tf.reshape(w, [n, ...t.shape.slice(1).map(() => 1)])), 0), tf.sum(w));
    const broadcast = (c: tf.Tensor) => tf.mul(tf.ones([n, ...c.shape]), tf.expandDims(c, 0));
    switch (name) {
      case 'meanSquaredError':
      case 'binaryCrossentropy':
      case 'categoricalCrossentropy':
        return broadcast(weightedMean(y.toFloat()));
      case 'meanAbsoluteError': {
        // The per-element median over samples (unweighted).
        const sorted = tf.topk(tf.transpose(tf.reshape(y.toFloat(), [n, -1])), n).values;
        const lo = Math.floor((n - 1) / 2);
        const hi = Math.ceil((n - 1) / 2);
        const med = tf.div(
          tf.add(tf.slice(sorted, [0, n - 1 - lo], [-1, 1]), tf.slice(sorted, [0, n - 1 - hi], [-1, 1])),
          2,
        );
        return broadcast(tf.reshape(med, y.shape.slice(1)));
      }
      case 'sparseCategoricalCrossentropy': {
        const classes = outputShape.at(-1);
        if (typeof classes !== 'number') return undefined;
        // Class frequencies over every label position, one prediction per position.
        const labels = tf.cast(tf.floor(tf.reshape(y, [n, -1])), 'int32');
        const perPosition = labels.shape[1]!;
        const oneHot = tf.oneHot(tf.reshape(labels, [-1]), classes).reshape([n, perPosition, classes]);
        const freq = weightedMean(oneHot).reshape([...outputShape.slice(1, -1).map((d) => d ?? 1), classes]);
        return broadcast(freq);
      }
      default:
        return undefined;
    }
  });
}

/**
 * The compiled loss (without weight penalties: a constant has no weights) of the best constant prediction
 * on `batch`, or null when some output's loss has no known best constant. The diagnosis then falls back to
 * the first probe loss and says so.
 */
export async function constantBaseline(model: Model, batch: Batch): Promise<number | null> {
  const core = coreModel(model);
  const ys = list(batch.y);
  const sw = batch.sampleWeight;
  const weights = sw === undefined ? undefined : Array.isArray(sw) ? tf.tensor1d(sw) : sw;
  try {
    const mean = tf.tidy((): tf.Tensor | undefined => {
      let total: tf.Tensor | undefined;
      for (let i = 0; i < core.lossFunctions.length; i++) {
        const lossFn = core.lossFunctions[i]!;
        const constant = bestConstant(lossName(lossFn), ys[i]!, core.outputs[i]!.shape, weights);
        if (constant === undefined) return undefined;
        let loss = lossFn(ys[i]!, constant);
        if (weights !== undefined) {
          const shape = [weights.shape[0]!, ...loss.shape.slice(1).map(() => 1)];
          loss = tf.mul(loss, tf.reshape(weights, shape));
        }
        total = total === undefined ? loss : tf.add(total, loss);
      }
      return total === undefined ? undefined : tf.mean(total);
    });
    if (mean === undefined) return null;
    const value = (await (mean as tf.Tensor).data())[0]!;
    (mean as tf.Tensor).dispose();
    return Number.isFinite(value) ? value : null;
  } finally {
    if (weights !== sw) weights?.dispose();
  }
}
