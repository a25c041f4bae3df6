// Every kind checked against an independent computation: central finite differences of a float64
// MSE for gradients, a sub-model's predict for outputs, getWeights() slices for weights.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { toSnapshots } from './capture.js';
import { getLayerGradients } from './index.js';
import {
  coordinates,
  fdOutputGrad,
  fdWeightGrad,
  mseLoss,
  randn,
  relativeError,
  reverseTime,
  seeded,
} from './test-util/reference.js';

// Finite differences (eps 1e-2, float32 forward passes, float64 loss) agree with the analytic
// gradients to ~1e-4 relative; 1e-2 leaves room for float32 noise and O(eps²) truncation.
const TOLERANCE = 1e-2;
const N = 3; // samples
const T = 5; // timesteps
const F = 2; // input features
const U = 3; // units

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type RnnFactory = (args: Record<string, unknown>) => tf.layers.Layer;
const rnnKinds: [string, RnnFactory][] = [
  ['SimpleRNN', (a) => tf.layers.simpleRNN(a as never)],
  ['LSTM', (a) => tf.layers.lstm(a as never)],
  ['GRU', (a) => tf.layers.gru(a as never)],
];

/** RNN(rs true) → RNN(rs false) → Dense, compiled with MSE. */
function stacked(make: RnnFactory, seed: number) {
  const model = tf.sequential();
  model.add(make({ units: U, returnSequences: true, inputShape: [T, F], ...seeded(seed) }));
  model.add(make({ units: U, returnSequences: false, ...seeded(seed + 10) }));
  model.add(
    tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: seed + 20 }) }),
  );
  model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  return model;
}

function expectMatchesFd(got: Float32Array, fd: Float64Array) {
  expect(got.every(Number.isFinite)).toBe(true);
  const err = relativeError(got, fd);
  expect(err).toBeLessThan(TOLERANCE);
}

describe.each(rnnKinds)('%s', (name, make) => {
  const x = randn([N, T, F], 1);
  const y = randn([N, 2], 2);

  it('output-grad with returnSequences true is dLoss/dOutput at every timestep', async () => {
    const model = stacked(make, 3);
    const layer = model.layers[0]!;
    const [snap] = await getLayerGradients(model, { x, y, layer: 0 });
    expect(snap!.shape).toEqual([N, T, U]);
    expect(snap!.dims).toEqual(['sample', 'timestep', 'channel']);
    expect(snap!.layerClass).toBe(name);
    expect(snap!.loss).toBeCloseTo(mseLoss(model, x, y), 5);
    const fd = fdOutputGrad(layer, [N, T, U], () => mseLoss(model, x, y), coordinates(N * T * U));
    expectMatchesFd(snap!.data, fd);
  });

  it('output-grad with returnSequences false has shape (samples, units)', async () => {
    const model = stacked(make, 4);
    const layer = model.layers[1]!;
    const [snap] = await getLayerGradients(model, { x, y, layer: layer.name });
    expect(snap!.shape).toEqual([N, U]);
    expect(snap!.dims).toEqual(['sample', 'channel']);
    const fd = fdOutputGrad(layer, [N, U], () => mseLoss(model, x, y), coordinates(N * U));
    expectMatchesFd(snap!.data, fd);
  });

  it('weight-grad is split per gate and matches finite differences', async () => {
    const model = stacked(make, 5);
    const layer = model.layers[0] as tf.layers.Layer & { cell: Record<string, tf.LayerVariable> };
    const gates = name === 'LSTM' ? 'ifco' : name === 'GRU' ? 'zrh' : '';
    const snaps = await getLayerGradients(model, { x, y, layer: 0, kind: 'weight-grad' });
    const expectedParts = ['kernel', 'recurrent_kernel', 'bias'].flatMap((w) =>
      gates === '' ? [w] : [...gates].map((g) => `${w}/${g}`),
    );
    expect(snaps.map((s) => s.part)).toEqual(expectedParts);
    const byPart = new Map(snaps.map((s) => [s.part, s]));
    expect(byPart.get(gates === '' ? 'kernel' : `kernel/${gates[0]}`)!.shape).toEqual([F, U]);
    expect(byPart.get(gates === '' ? 'recurrent_kernel' : `recurrent_kernel/${gates[0]}`)!.shape).toEqual([
      U,
      U,
    ]);
    expect(byPart.get(gates === '' ? 'bias' : `bias/${gates[0]}`)!.shape).toEqual([U]);
    for (const [weight, variable] of [
      ['kernel', layer.cell.kernel!],
      ['recurrent_kernel', layer.cell.recurrentKernel!],
      ['bias', layer.cell.bias!],
    ] as const) {
      const full = fdWeightGrad(
        variable,
        () => mseLoss(model, x, y),
        coordinates(variable.shape.reduce((a, b) => a! * b!, 1)!, 64),
      );
      const width = variable.shape[variable.shape.length - 1]!;
      const rows = full.length / width;
      // Cut the finite differences into gates the same way, by direct indexing.
      for (const [g, gate] of [...(gates || ' ')].entries()) {
        const cols = gates === '' ? width : U;
        const fd = new Float64Array(rows * cols);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) fd[r * cols + c] = full[r * width + g * cols + c]!;
        expectMatchesFd(byPart.get(gates === '' ? weight : `${weight}/${gate}`)!.data, fd);
      }
    }
  });

  it('output equals a sub-model predict, weight equals getWeights() slices', async () => {
    const model = stacked(make, 6);
    const layer = model.layers[0]!;
    const [out] = await getLayerGradients(model, { x, y, layer: 0, kind: 'output' });
    const sub = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
    const expected = (sub.predict(x) as tf.Tensor).dataSync();
    expect(out!.shape).toEqual([N, T, U]);
    expect(Array.from(out!.data)).toEqual(Array.from(expected));

    const weights = await getLayerGradients(model, { x, y, layer: 0, kind: 'weight' });
    const kernel = layer.getWeights()[0]!.arraySync() as number[][];
    const g = name === 'SimpleRNN' ? 0 : 1; // second gate: 'f' of LSTM, 'r' of GRU
    const part = weights.find(
      (s) => s.part === (g === 0 ? 'kernel' : `kernel/${name === 'LSTM' ? 'f' : 'r'}`),
    )!;
    const slice = kernel.flatMap((row) => row.slice(g * U, (g + 1) * U));
    expect(Array.from(part.data)).toEqual(slice.map(Math.fround));
  });
});

describe('Bidirectional', () => {
  const x = randn([N, T, F], 11);
  const y = randn([N, T, 1], 12);

  function bidi(mergeMode: 'concat' | 'sum' | 'mul' | 'ave', returnSequences = true) {
    const model = tf.sequential();
    model.add(
      tf.layers.bidirectional({
        layer: tf.layers.lstm({ units: U, returnSequences, ...seeded(13) }) as never,
        mergeMode,
        inputShape: [T, F],
      }),
    );
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 14 }) }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    return model;
  }

  it('concat: one snapshot, forward channels first, backward second, input time order', async () => {
    const model = bidi('concat');
    const layer = model.layers[0]!;
    const snaps = await getLayerGradients(model, { x, y, layer: 0 });
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.shape).toEqual([N, T, 2 * U]);
    expect(snaps[0]!.channelParts).toEqual(['forward', 'backward']);
    const fd = fdOutputGrad(layer, [N, T, 2 * U], () => mseLoss(model, x, y), coordinates(N * T * 2 * U, 90));
    expectMatchesFd(snaps[0]!.data, fd);
  });

  it.each(['sum', 'mul', 'ave'] as const)(
    '%s: forward and backward separately, both in input time order',
    async (mode) => {
      const model = bidi(mode);
      const layer = model.layers[0] as tf.layers.Layer & {
        forwardLayer: tf.layers.Layer;
        backwardLayer: tf.layers.Layer;
      };
      const snaps = await getLayerGradients(model, { x, y, layer: 0 });
      expect(snaps.map((s) => s.part)).toEqual(['forward', 'backward']);
      const loss = () => mseLoss(model, x, y);
      const shape = [N, T, U];
      const coords = coordinates(N * T * U);
      expectMatchesFd(snaps[0]!.data, fdOutputGrad(layer.forwardLayer, shape, loss, coords));
      // The backward layer computes from the last timestep to the first: its raw output is reversed.
      const raw = fdOutputGrad(layer.backwardLayer, shape, loss, coords);
      expectMatchesFd(snaps[1]!.data, reverseTime(raw, shape));
      // The two directions really differ (the test would not catch a missing flip otherwise).
      expect(relativeError(snaps[1]!.data, raw)).toBeGreaterThan(0.1);
    },
  );

  it('returnSequences false: the backward direction has no time axis to flip', async () => {
    const model = bidi('sum', false);
    const layer = model.layers[0] as tf.layers.Layer & { backwardLayer: tf.layers.Layer };
    const yLast = randn([N, 1], 15);
    const snaps = await getLayerGradients(model, { x, y: yLast, layer: 0 });
    expect(snaps[1]!.shape).toEqual([N, U]);
    const fd = fdOutputGrad(layer.backwardLayer, [N, U], () => mseLoss(model, x, yLast), coordinates(N * U));
    expectMatchesFd(snaps[1]!.data, fd);
  });

  it('weights carry the direction in the part', async () => {
    const snaps = await getLayerGradients(bidi('concat'), { x, y, layer: 0, kind: 'weight-grad' });
    expect(snaps.map((s) => s.part)).toContain('forward/kernel/i');
    expect(snaps.map((s) => s.part)).toContain('backward/recurrent_kernel/o');
    expect(snaps).toHaveLength(2 * 3 * 4);
  });
});

describe('functional models', () => {
  it('a layer feeding a skip connection gets the sum of both paths', async () => {
    const input = tf.input({ shape: [T, F] });
    const a = tf.layers.lstm({ units: U, returnSequences: true, name: 'a', ...seeded(21) });
    const b = tf.layers.gru({ units: U, returnSequences: true, name: 'b', ...seeded(22) });
    const ha = a.apply(input) as tf.SymbolicTensor;
    const hb = b.apply(ha) as tf.SymbolicTensor;
    const merged = tf.layers.add().apply([ha, hb]) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 23 }) })
      .apply(merged);
    const model = tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = randn([N, T, F], 24);
    const y = randn([N, T, 1], 25);
    for (const layer of [a, b]) {
      const [snap] = await getLayerGradients(model, { x, y, layer: layer.name });
      const fd = fdOutputGrad(layer, [N, T, U], () => mseLoss(model, x, y), coordinates(N * T * U));
      expectMatchesFd(snap!.data, fd);
    }
  });

  it('multi-output: the gradient of the summed compiled loss of every output', async () => {
    const input = tf.input({ shape: [T, F] });
    const shared = tf.layers.lstm({ units: U, returnSequences: true, name: 'shared', ...seeded(31) });
    const h = shared.apply(input) as tf.SymbolicTensor;
    const h1 = tf.layers.simpleRNN({ units: U, ...seeded(32) }).apply(h) as tf.SymbolicTensor;
    const h2 = tf.layers.gru({ units: U, ...seeded(33) }).apply(h) as tf.SymbolicTensor;
    const o1 = tf.layers
      .dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: 34 }) })
      .apply(h1);
    const o2 = tf.layers
      .dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 35 }) })
      .apply(h2);
    const model = tf.model({ inputs: input, outputs: [o1, o2] as tf.SymbolicTensor[] });
    model.compile({ optimizer: 'sgd', loss: ['meanSquaredError', 'meanSquaredError'] });
    const x = randn([N, T, F], 36);
    const y = [randn([N, 2], 37), randn([N, 1], 38)];
    const [snap] = await getLayerGradients(model, { x, y, layer: 'shared' });
    expect(snap!.loss).toBeCloseTo(mseLoss(model, x, y), 5);
    const fd = fdOutputGrad(shared, [N, T, U], () => mseLoss(model, x, y), coordinates(N * T * U));
    expectMatchesFd(snap!.data, fd);
  });

  it('probe sample weights weight each sample of a sequence loss', async () => {
    const model = tf.sequential();
    const lstm = tf.layers.lstm({ units: U, returnSequences: true, inputShape: [T, F], ...seeded(41) });
    model.add(lstm);
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 42 }) }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = randn([N, T, F], 43);
    const y = randn([N, T, 1], 44);
    const w = [1, 0, 3];
    const [snap] = await getLayerGradients(model, { x, y, sampleWeight: w, layer: 0 });
    expect(snap!.loss).toBeCloseTo(mseLoss(model, x, y, w), 5);
    const fd = fdOutputGrad(lstm, [N, T, U], () => mseLoss(model, x, y, w), coordinates(N * T * U));
    expectMatchesFd(snap!.data, fd);
    // Sample 1 has weight 0: no gradient at all.
    expect(snap!.data.slice(T * U, 2 * T * U).every((v) => v === 0)).toBe(true);
  });
});

describe('GRU with resetAfter', () => {
  it('tfjs 4.22 refuses resetAfter: true, so the layout is read from the config', () => {
    expect(() => tf.layers.gru({ units: 2, resetAfter: true, inputShape: [T, F] } as never)).toThrow(
      /reset_after/,
    );
  });

  it('a [2, 3u] bias (resetAfter: true) splits into input and recurrent biases per gate', async () => {
    // tfjs cannot build such a GRU; feed toSnapshots the weight layout Keras uses for one.
    const values = Float32Array.from({ length: 2 * 3 * U }, (_, i) => i);
    const bias = tf.variable(tf.tensor2d(values, [2, 3 * U]));
    const variable = { name: 'gru/bias', shape: [2, 3 * U], trainable: true, read: () => bias };
    const target = {
      layer: {} as tf.layers.Layer,
      name: 'gru',
      className: 'GRU',
      points: [],
      weights: [{ variable, part: 'bias', gates: 'zrh', units: U }],
    };
    const kept = { loss: 0, outputs: new Map(), grads: new Map(), shapes: new Map(), weightGrads: new Map() };
    const snaps = await toSnapshots([target], kept, new Set(['weight'] as const), {
      run: '',
      iteration: 0,
      epoch: 0,
      batch: 0,
      time: 0,
    });
    expect(snaps.map((s) => s.part)).toEqual([
      'bias/input/z',
      'bias/input/r',
      'bias/input/h',
      'bias/recurrent/z',
      'bias/recurrent/r',
      'bias/recurrent/h',
    ]);
    // Row r, gate g holds values[r * 3U + g * U ... + U].
    snaps.forEach((s, k) => {
      const [r, g] = [Math.floor(k / 3), k % 3];
      expect(Array.from(s.data)).toEqual(
        Array.from(values.slice(r * 3 * U + g * U, r * 3 * U + (g + 1) * U)),
      );
    });
    bias.dispose();
  });
});
