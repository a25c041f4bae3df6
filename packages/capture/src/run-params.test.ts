// The parameters a run records without being asked, read from a real tiny fit (cpu backend): they equal
// the configuration the model was built, compiled and fitted with; the user's group and params go beside.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GradscopeError, gradientCallback, MemorySink } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const data = (n: number, T: number, F: number) => ({
  x: tf.randomNormal([n, T, F], 0, 1, 'float32', 1),
  y: tf.randomNormal([n, 1], 0, 1, 'float32', 2),
});

describe('run params', () => {
  it('a GRU fit: cell, units, layers, timesteps, optimizer, learning rate, batch size, epochs, loss; the user keys over them', async () => {
    const model = tf.sequential();
    model.add(tf.layers.gru({ units: 5, inputShape: [7, 2] }));
    model.add(tf.layers.dense({ units: 1 }));
    model.compile({ optimizer: tf.train.adam(0.0123), loss: 'meanSquaredError' });
    const sink = new MemorySink();
    const { x, y } = data(16, 7, 2);
    const cb = gradientCallback({
      mode: 'batch',
      every: 1000,
      verbose: 0,
      sink,
      group: 'gru-5',
      params: { seed: 3, task: { lag: 5 }, epochs: 'overridden' },
    });
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [cb] });
    expect(sink.runs).toHaveLength(1);
    expect(sink.runs[0]!.group).toBe('gru-5');
    expect(sink.runs[0]!.params).toEqual({
      cell: 'GRU',
      units: 5,
      recurrentLayers: 1,
      timesteps: 7,
      optimizer: 'Adam',
      lr: 0.0123,
      batchSize: 8,
      epochs: 'overridden',
      loss: 'meanSquaredError',
      seed: 3,
      task: { lag: 5 },
    });
  });

  it('stacked Bidirectional(LSTM) + SimpleRNN under SGD: every cell, the units per layer; no group when none is given', async () => {
    const model = tf.sequential();
    model.add(
      tf.layers.bidirectional({
        layer: tf.layers.lstm({ units: 3, returnSequences: true }) as tf.RNN,
        inputShape: [4, 1],
      }),
    );
    model.add(tf.layers.simpleRNN({ units: 6 }));
    model.add(tf.layers.dense({ units: 1 }));
    model.compile({ optimizer: tf.train.sgd(0.25), loss: 'meanAbsoluteError' });
    const sink = new MemorySink();
    const { x, y } = data(6, 4, 1);
    const cb = gradientCallback({ mode: 'batch', every: 1000, verbose: 0, sink });
    await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0, callbacks: [cb] });
    const run = sink.runs[0]!;
    expect(run.group).toBeUndefined();
    expect(run.params).toEqual({
      cell: 'Bidirectional(LSTM)+SimpleRNN',
      units: [3, 6],
      recurrentLayers: 2,
      timesteps: 4,
      optimizer: 'SGD',
      lr: 0.25,
      batchSize: 3,
      epochs: 1,
      loss: 'meanAbsoluteError',
    });
  });

  it('a bad group or params fails when the callback is made, naming the value', () => {
    const make = (args: object) => () => gradientCallback({ mode: 'batch', ...args });
    expect(make({ group: 3 })).toThrow(GradscopeError);
    expect(make({ group: 3 })).toThrow(
      'group must be a non-empty string (e.g. the seed-free name of a configuration), got 3',
    );
    expect(make({ params: { lr: Number.NaN } })).toThrow(
      'params.lr must be a finite number (JSON has no NaN), got NaN',
    );
    expect(make({ params: 'lr=1' })).toThrow(
      'params must be a JSON object such as { "lr": 0.005, "seed": 1 }, got "lr=1"',
    );
    expect(make({ grup: 'a' })).toThrow("unknown option 'grup' for gradientCallback; did you mean 'group'?");
  });
});
