// The constant predictor's loss against direct formulas (written out in plain numbers, not tfjs), per loss.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { constantBaseline } from './baseline.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function model(
  loss: string | ((a: tf.Tensor, b: tf.Tensor) => tf.Tensor),
  units: number,
  activation?: string,
) {
  const m = tf.sequential();
  m.add(tf.layers.simpleRNN({ units: 3, inputShape: [4, 2] }));
  m.add(tf.layers.dense({ units, ...(activation ? { activation: activation as never } : {}) }));
  m.compile({ optimizer: 'sgd', loss: loss as never });
  return m;
}

const x = (n: number) => tf.randomNormal([n, 4, 2], 0, 1, 'float32', 1);
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe('constantBaseline', () => {
  it('mean squared error: the variance of each output around its mean', async () => {
    const y = [
      [1, 10],
      [2, 20],
      [6, 30],
    ];
    const cols = [0, 1].map((c) => y.map((r) => r[c]!));
    const want = mean(cols.map((col) => mean(col.map((v) => (v - mean(col)) ** 2))));
    const got = await constantBaseline(model('meanSquaredError', 2), { x: x(3), y: tf.tensor2d(y) });
    expect(got).toBeCloseTo(want, 4);
  });

  it('mean squared error with sample weights: the weighted mean, each sample loss weighted', async () => {
    const y = [1, 2, 6, 3];
    const w = [1, 0, 3, 2];
    const c = y.reduce((a, v, i) => a + v * w[i]!, 0) / w.reduce((a, b) => a + b, 0);
    const want = mean(y.map((v, i) => w[i]! * (v - c) ** 2));
    const got = await constantBaseline(model('meanSquaredError', 1), {
      x: x(4),
      y: tf.tensor2d(y, [4, 1]),
      sampleWeight: w,
    });
    expect(got).toBeCloseTo(want, 4);
  });

  it('mean absolute error: the distance to the median', async () => {
    const y = [5, 1, 9, 2, 100];
    const want = mean(y.map((v) => Math.abs(v - 5)));
    const got = await constantBaseline(model('meanAbsoluteError', 1), { x: x(5), y: tf.tensor2d(y, [5, 1]) });
    expect(got).toBeCloseTo(want, 4);
  });

  it('binary cross-entropy: the entropy of the label frequency', async () => {
    const y = [1, 0, 0, 1, 1, 1, 0, 1];
    const p = mean(y);
    const want = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    const got = await constantBaseline(model('binaryCrossentropy', 1, 'sigmoid'), {
      x: x(8),
      y: tf.tensor2d(y, [8, 1]),
    });
    expect(got).toBeCloseTo(want, 4);
  });

  it('categorical and sparse categorical cross-entropy: the entropy of the class frequencies', async () => {
    const labels = [0, 2, 2, 1, 2, 0];
    const freq = [0, 1, 2].map((k) => labels.filter((l) => l === k).length / labels.length);
    const want = -freq.reduce((a, f) => a + f * Math.log(f), 0);
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat();
    const cce = await constantBaseline(model('categoricalCrossentropy', 3, 'softmax'), {
      x: x(6),
      y: oneHot,
    });
    const scce = await constantBaseline(model('sparseCategoricalCrossentropy', 3, 'softmax'), {
      x: x(6),
      y: tf.tensor2d(labels, [6, 1]),
    });
    expect(cce).toBeCloseTo(want, 4);
    expect(scce).toBeCloseTo(want, 4);
  });

  it('is null for a loss without a known best constant (the diagnosis then uses the first probe loss)', async () => {
    const custom = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.abs(tf.sub(a, b)), -1);
    expect(await constantBaseline(model(custom, 1), { x: x(3), y: tf.ones([3, 1]) })).toBeNull();
    expect(await constantBaseline(model('hinge', 1), { x: x(3), y: tf.ones([3, 1]) })).toBeNull();
  });
});
