// Every kind checked against an independent computation: central finite differences of a float64
// MSE for gradients (w.r.t. a layer's output, its input, a weight), a sub-model's predict for outputs,
// getWeights() slices for weights.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { probePass, toSnapshots } from './capture.js';
import { getLayerGradients, type Kind, type Snapshot } from './index.js';
import { makeTarget } from './layers.js';
import {
  coordinates,
  fdInputGrad,
  fdOutputGrad,
  fdWeightGrad,
  mseLoss,
  randn,
  relativeError,
  reverseTime,
  seeded,
} from './test-util/reference.js';

// Finite differences (eps 1e-2, float32 forward passes, float64 loss) agree with the analytic
// gradients to ~1e-4 relative (input-grad measured 2e-5 to 5e-5); the bound, 1e-2 relative L2 error
// over the compared coordinates, leaves room for float32 noise and O(eps²) truncation.
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

  it('input-grad is dLoss/dInput at every timestep, below returnSequences true and false', async () => {
    const model = stacked(make, 7);
    const loss = () => mseLoss(model, x, y);
    // Layer 0 reads the model input; layer 1 (returnSequences false) reads layer 0's sequence.
    for (const [index, features] of [
      [0, F],
      [1, U],
    ] as const) {
      const layer = model.layers[index]!;
      const [snap] = await getLayerGradients(model, { x, y, layer: index, kind: 'input-grad' });
      expect(snap!.kind).toBe('input-grad');
      expect(snap!.shape).toEqual([N, T, features]);
      expect(snap!.dims).toEqual(['sample', 'timestep', 'channel']);
      expect(snap!.part).toBeUndefined();
      const fd = fdInputGrad(layer, [N, T, features], loss, coordinates(N * T * features));
      expectMatchesFd(snap!.data, fd);
    }
    // The input of layer 1 is the output of layer 0: one gradient, reached two ways.
    const [below] = await getLayerGradients(model, { x, y, layer: 0 });
    const [above] = await getLayerGradients(model, { x, y, layer: 1, kind: 'input-grad' });
    expect(relativeError(above!.data, Float64Array.from(below!.data))).toBeLessThan(1e-6);
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

  it.each(['concat', 'sum', 'mul', 'ave'] as const)(
    'input-grad (%s): the whole gradient w.r.t. the shared input and each direction’s share of it',
    async (mode) => {
      const model = bidi(mode);
      const layer = model.layers[0] as tf.layers.Layer & {
        forwardLayer: tf.layers.Layer;
        backwardLayer: tf.layers.Layer;
      };
      const snaps = await getLayerGradients(model, { x, y, layer: 0, kind: 'input-grad' });
      expect(snaps.map((s) => s.part)).toEqual([undefined, 'forward', 'backward']);
      const [whole, forward, backward] = snaps as [Snapshot, Snapshot, Snapshot];
      const loss = () => mseLoss(model, x, y);
      const shape = [N, T, F];
      for (const s of snaps) {
        expect(s.shape).toEqual(shape);
        expect(s.dims).toEqual(['sample', 'timestep', 'channel']);
      }
      const coords = coordinates(N * T * F);
      expectMatchesFd(whole.data, fdInputGrad(layer, shape, loss, coords));
      // Each direction alone sees the shifted input: its contribution, in input time order.
      expectMatchesFd(forward.data, fdInputGrad(layer.forwardLayer, shape, loss, coords));
      expectMatchesFd(backward.data, fdInputGrad(layer.backwardLayer, shape, loss, coords));
      // The two shares sum to the whole (float32 rounding of one addition).
      const sum = forward.data.map((v, i) => v + backward.data[i]!);
      expect(relativeError(sum, Float64Array.from(whole.data))).toBeLessThan(1e-6);
      // Both directions really contribute (a share equal to the whole would pass the sum check).
      expect(relativeError(forward.data, Float64Array.from(whole.data))).toBeGreaterThan(0.05);
    },
  );

  it('input-grad with returnSequences false', async () => {
    const model = bidi('concat', false);
    const layer = model.layers[0] as tf.layers.Layer & { backwardLayer: tf.layers.Layer };
    const yLast = randn([N, 1], 16);
    const loss = () => mseLoss(model, x, yLast);
    const [whole, , backward] = await getLayerGradients(model, { x, y: yLast, layer: 0, kind: 'input-grad' });
    expect(whole!.shape).toEqual([N, T, F]);
    const coords = coordinates(N * T * F);
    expectMatchesFd(whole!.data, fdInputGrad(layer, [N, T, F], loss, coords));
    expectMatchesFd(backward!.data, fdInputGrad(layer.backwardLayer, [N, T, F], loss, coords));
  });

  it('every kind in one pass: the same values as alone, and each wrapped call restored', async () => {
    const model = bidi('sum');
    const layer = model.layers[0] as tf.layers.Layer & {
      forwardLayer: tf.layers.Layer;
      backwardLayer: tf.layers.Layer;
    };
    const targets = [makeTarget(layer)];
    const stamp = { run: '', iteration: 0, epoch: 0, batch: 0, time: 0 };
    const pass = (kinds: Kind[]) =>
      toSnapshots(targets, probePass(model, targets, { x, y }, new Set(kinds)), new Set(kinds), stamp);
    const all = await pass(['output-grad', 'output', 'input-grad', 'weight-grad']);
    for (const kind of ['output-grad', 'output', 'input-grad'] as const) {
      const alone = await pass([kind]);
      const together = all.filter((s) => s.kind === kind);
      expect(together.map((s) => s.part)).toEqual(alone.map((s) => s.part));
      together.forEach((s, i) => {
        expect(Array.from(s.data)).toEqual(Array.from(alone[i]!.data));
      });
    }
    // The input and the output of each direction were wrapped at once: nothing of either is left.
    for (const l of [layer, layer.forwardLayer, layer.backwardLayer])
      expect(Object.hasOwn(l, 'call')).toBe(false);
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
    const loss = () => mseLoss(model, x, y);
    for (const layer of [a, b]) {
      const [snap] = await getLayerGradients(model, { x, y, layer: layer.name });
      const fd = fdOutputGrad(layer, [N, T, U], loss, coordinates(N * T * U));
      expectMatchesFd(snap!.data, fd);
    }
    // input-grad: of a (the model input) and of b (whose input also feeds the skip connection).
    for (const [layer, features] of [
      [a, F],
      [b, U],
    ] as const) {
      const [snap] = await getLayerGradients(model, { x, y, layer: layer.name, kind: 'input-grad' });
      expect(snap!.shape).toEqual([N, T, features]);
      const fd = fdInputGrad(layer, [N, T, features], loss, coordinates(N * T * features));
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

describe('time order and axis names', () => {
  it('a standalone goBackwards layer is recorded in input time order', async () => {
    const model = tf.sequential();
    const lstm = tf.layers.lstm({
      units: U,
      returnSequences: true,
      goBackwards: true,
      inputShape: [T, F],
      ...seeded(51),
    });
    model.add(lstm);
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 52 }) }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = randn([N, T, F], 53);
    const y = randn([N, T, 1], 54);
    const loss = () => mseLoss(model, x, y);
    const shape = [N, T, U];
    // The layer emits output t for input position T-1-t: the raw gradient reversed is input order.
    const [grad] = await getLayerGradients(model, { x, y, layer: 0 });
    const raw = fdOutputGrad(lstm, shape, loss, coordinates(N * T * U));
    expectMatchesFd(grad!.data, reverseTime(raw, shape));
    expect(relativeError(grad!.data, raw)).toBeGreaterThan(0.1);
    const [out] = await getLayerGradients(model, { x, y, layer: 0, kind: 'output' });
    const sub = tf.model({ inputs: model.inputs, outputs: lstm.output as tf.SymbolicTensor });
    const predicted = Float64Array.from((sub.predict(x) as tf.Tensor).dataSync());
    expect(Array.from(out!.data)).toEqual(Array.from(reverseTime(predicted, shape)));
    // The input is read in input order already: input-grad needs no flip.
    const [input] = await getLayerGradients(model, { x, y, layer: 0, kind: 'input-grad' });
    expectMatchesFd(input!.data, fdInputGrad(lstm, [N, T, F], loss, coordinates(N * T * F)));
  });

  it('ConvLSTM2D: dims name rows and columns; input-grad and output-grad match finite differences', async () => {
    const [rows, cols, channels, filters] = [3, 3, 1, 2];
    const model = tf.sequential();
    const conv = tf.layers.convLstm2d({
      filters,
      kernelSize: 2,
      padding: 'same',
      returnSequences: true,
      inputShape: [T, rows, cols, channels],
      ...seeded(61),
    });
    model.add(conv);
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 62 }) }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = randn([N, T, rows, cols, channels], 63);
    const y = randn([N, 1], 64);
    const loss = () => mseLoss(model, x, y);
    const [grad] = await getLayerGradients(model, { x, y, layer: 0 });
    expect(grad!.shape).toEqual([N, T, rows, cols, filters]);
    expect(grad!.dims).toEqual(['sample', 'timestep', 'row', 'col', 'channel']);
    const outShape = [N, T, rows, cols, filters];
    expectMatchesFd(
      grad!.data,
      fdOutputGrad(conv, outShape, loss, coordinates(outShape.reduce((a, b) => a * b))),
    );
    const [input] = await getLayerGradients(model, { x, y, layer: 0, kind: 'input-grad' });
    const inShape = [N, T, rows, cols, channels];
    expect(input!.dims).toEqual(['sample', 'timestep', 'row', 'col', 'channel']);
    expectMatchesFd(
      input!.data,
      fdInputGrad(conv, inShape, loss, coordinates(inShape.reduce((a, b) => a * b))),
    );
  });
});

describe('the probe pass goes only as deep as it must', () => {
  function lstmDense(steps: number) {
    const model = tf.sequential();
    model.add(tf.layers.lstm({ units: U, returnSequences: true, inputShape: [steps, F], ...seeded(71) }));
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 72 }) }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    return { model, x: randn([N, steps, F], 73), y: randn([N, steps, 1], 74) };
  }

  async function pass(m: ReturnType<typeof lstmDense>, kinds: Kind[]) {
    const targets = [makeTarget(m.model.layers[0]!)];
    const stamp = { run: '', iteration: 0, epoch: 0, batch: 0, time: 0 };
    return toSnapshots(targets, probePass(m.model, targets, m, new Set(kinds)), new Set(kinds), stamp);
  }

  /** Kernels a pass runs, besides the Identity copies a recording tape makes of saved inputs. */
  async function kernels(m: ReturnType<typeof lstmDense>, kinds: Kind[]) {
    const profile = await tf.profile(async () => {
      await pass(m, kinds);
    });
    return profile.kernels.filter((k) => k.name !== 'Identity').length;
  }

  it('output-grad: the backward pass stops at the tap, whatever the sequence length', async () => {
    const short = lstmDense(4);
    const long = lstmDense(8);
    // Backward kernels = the pass minus the forward pass alone ('output' runs no backward pass).
    const backward = async (m: ReturnType<typeof lstmDense>, kind: Kind) =>
      (await kernels(m, [kind])) - (await kernels(m, ['output']));
    expect(await backward(long, 'output-grad')).toBe(await backward(short, 'output-grad'));
    // Through the recurrence (input-grad, weight-grad) the backward pass grows with every timestep.
    expect(await backward(long, 'input-grad')).toBeGreaterThan(await backward(short, 'input-grad'));
    expect(await backward(long, 'weight-grad')).toBeGreaterThan(await backward(short, 'weight-grad'));
  });

  it('a frozen layer still has output-grad and input-grad; only weight-grad needs trainable weights', async () => {
    const m = lstmDense(T);
    const layer = m.model.layers[0]!;
    layer.trainable = false;
    const loss = () => mseLoss(m.model, m.x, m.y);
    const [grad] = await getLayerGradients(m.model, { x: m.x, y: m.y, layer: 0 });
    expectMatchesFd(grad!.data, fdOutputGrad(layer, [N, T, U], loss, coordinates(N * T * U)));
    const [input] = await getLayerGradients(m.model, { x: m.x, y: m.y, layer: 0, kind: 'input-grad' });
    expectMatchesFd(input!.data, fdInputGrad(layer, [N, T, F], loss, coordinates(N * T * F)));
    await expect(
      getLayerGradients(m.model, { x: m.x, y: m.y, layer: 0, kind: 'weight-grad' }),
    ).rejects.toThrow(
      /have no trainable weights: weight gradients cannot be traced back to them \(set layer.trainable = true\)/,
    );
  });

  it('gives the same tap gradients alone as within the full pass to the weights', async () => {
    const m = lstmDense(T);
    const alone = await pass(m, ['output-grad', 'input-grad']);
    const full = await pass(m, ['output-grad', 'input-grad', 'weight-grad']);
    for (const kind of ['output-grad', 'input-grad'] as const) {
      const a = alone.find((s) => s.kind === kind)!;
      const b = full.find((s) => s.kind === kind)!;
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    }
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
      inputPoints: [],
      dims: () => [],
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
