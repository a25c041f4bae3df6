// The callback inside real tfjs training: schedules, both modes against finite differences, no
// leaks, no effect on training, and a sink that fails or stalls.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  GradscopeError,
  getLayerGradients,
  gradientCallback,
  MemorySink,
  type Sink,
  type Snapshot,
} from './index.js';
import {
  coordinates,
  fdInputGrad,
  fdOutputGrad,
  fdWeightGrad,
  mseLoss,
  randn,
  relativeError,
  seeded,
} from './test-util/reference.js';

const N = 4;
const T = 6;
const F = 2;
const U = 3;
const TOLERANCE = 1e-2; // see capture.test.ts

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
});

function lstmModel(seed = 1) {
  const model = tf.sequential({ name: 'demo' });
  model.add(
    tf.layers.lstm({ units: U, returnSequences: true, inputShape: [T, F], name: 'lstm_a', ...seeded(seed) }),
  );
  model.add(tf.layers.gru({ units: U, returnSequences: false, name: 'gru_b', ...seeded(seed + 10) }));
  model.add(
    tf.layers.dense({
      units: 1,
      name: 'out',
      kernelInitializer: tf.initializers.randomNormal({ seed: seed + 20 }),
    }),
  );
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  return model;
}

const data = () => ({ x: randn([N, T, F], 7), y: randn([N, 1], 8) });
const iterationsOf = (snaps: Snapshot[]) => [...new Set(snaps.map((s) => s.iteration))];

describe('schedule and records', () => {
  it('records at every N and at chosen iterations, counted across epochs, with the run summary', async () => {
    const model = lstmModel();
    const { x, y } = data();
    const sink = new MemorySink();
    const probe = data();
    const cb = gradientCallback({
      every: 5,
      at: [0, 2, 11],
      capture: ['output-grad'],
      probe,
      sink,
      runName: 'sched',
      runMeta: { note: 'hi' },
    });
    // 4 samples, batch 2 → 2 iterations per epoch; 6 epochs → iterations 1..12.
    await model.fit(x, y, { epochs: 6, batchSize: 2, callbacks: [cb], verbose: 0 });
    expect(iterationsOf(sink.snapshots)).toEqual([0, 2, 5, 10, 11]);
    const at5 = sink.find({ iteration: 5, layer: 'lstm_a' })[0]!;
    expect([at5.epoch, at5.batch]).toEqual([2, 0]); // iteration 5 is epoch 2's first batch
    const at10 = sink.find({ iteration: 10, layer: 'gru_b' })[0]!;
    expect([at10.epoch, at10.batch]).toEqual([4, 1]);
    expect(sink.snapshots.every((s) => s.run === cb.runId)).toBe(true);
    expect(sink.snapshots).toHaveLength(5 * 2);
    expect(cb.stats).toMatchObject({ captures: 5, written: 10, dropped: 0 });

    const [run] = sink.runs;
    expect(run!.name).toBe('sched');
    expect(run!.meta).toEqual({ note: 'hi' });
    expect(run!.options).toMatchObject({
      mode: 'probe',
      every: 5,
      at: [0, 2, 11],
      layers: ['lstm_a', 'gru_b'],
    });
    expect(
      run!.model.layers.map((l) => [l.name, l.className, l.units, l.returnSequences, l.gates, l.captured]),
    ).toEqual([
      ['lstm_a', 'LSTM', U, true, 'ifco', true],
      ['gru_b', 'GRU', U, false, 'zrh', true],
      ['out', 'Dense', undefined, undefined, undefined, false],
    ]);
    expect(run!.model.layers[1]!.resetAfter).toBe(false);
    expect(run!.model.losses).toEqual(['meanSquaredError']);
    expect(run!.backend).toBe('cpu');
    expect(sink.status.get(cb.runId)).toBe('finished');
  });

  it('probe mode: the last snapshot is dLoss/dOutput of the trained model on the probe', async () => {
    const model = lstmModel(2);
    const { x, y } = data();
    const probe = { x: randn([N, T, F], 9), y: randn([N, 1], 10) };
    const sink = new MemorySink();
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 2,
      verbose: 0,
      callbacks: [
        gradientCallback({
          at: [6],
          probe,
          sink,
          layers: ['lstm_a', 'gru_b'],
          capture: ['output-grad', 'input-grad'],
        }),
      ],
    });
    const [snap] = sink.find({ iteration: 6, layer: 'lstm_a', kind: 'output-grad' });
    const layer = model.getLayer('lstm_a');
    const loss = () => mseLoss(model, probe.x, probe.y);
    const fd = fdOutputGrad(layer, [N, T, U], loss, coordinates(N * T * U));
    expect(relativeError(snap!.data, fd)).toBeLessThan(TOLERANCE);
    expect(snap!.loss).toBeCloseTo(loss(), 5);
    // input-grad of both layers: the model input (F features) and lstm_a's sequence (U channels).
    for (const [name, features] of [
      ['lstm_a', F],
      ['gru_b', U],
    ] as const) {
      const [input] = sink.find({ iteration: 6, layer: name, kind: 'input-grad' });
      expect(input!.shape).toEqual([N, T, features]);
      const fdInput = fdInputGrad(
        model.getLayer(name),
        [N, T, features],
        loss,
        coordinates(N * T * features),
      );
      expect(relativeError(input!.data, fdInput)).toBeLessThan(TOLERANCE);
    }
  });

  it('batch mode: the gradients of the real training step, before its update', async () => {
    const model = lstmModel(3);
    const { x, y } = data();
    const initial = model.getWeights().map((w) => w.clone());
    const sink = new MemorySink();
    const cb = gradientCallback({
      mode: 'batch',
      at: [1],
      capture: ['output-grad', 'output', 'input-grad', 'weight-grad'],
      sink,
    });
    // One batch of every sample, in order: iteration 1 sees exactly (x, y) at the initial weights.
    await model.fit(x, y, { epochs: 1, batchSize: N, shuffle: false, verbose: 0, callbacks: [cb] });
    const trained = model.getWeights().map((w) => w.clone());
    model.setWeights(initial);
    const loss = () => mseLoss(model, x, y);
    const lstm = model.getLayer('lstm_a') as tf.layers.Layer & { cell: Record<string, tf.LayerVariable> };

    const [grad] = sink.find({ layer: 'lstm_a', kind: 'output-grad' });
    expect(grad!.iteration).toBe(1);
    expect(grad!.loss).toBeCloseTo(loss(), 5);
    expect(
      relativeError(grad!.data, fdOutputGrad(lstm, [N, T, U], loss, coordinates(N * T * U))),
    ).toBeLessThan(TOLERANCE);

    // input-grad of the first layer (its input is the model input, which fit does not differentiate)
    // and of the second, during the same training step.
    for (const [name, features] of [
      ['lstm_a', F],
      ['gru_b', U],
    ] as const) {
      const [input] = sink.find({ layer: name, kind: 'input-grad' });
      expect(input!.iteration).toBe(1);
      const fdInput = fdInputGrad(
        model.getLayer(name),
        [N, T, features],
        loss,
        coordinates(N * T * features),
      );
      expect(relativeError(input!.data, fdInput)).toBeLessThan(TOLERANCE);
    }

    const [output] = sink.find({ layer: 'lstm_a', kind: 'output' });
    const sub = tf.model({ inputs: model.inputs, outputs: lstm.output as tf.SymbolicTensor });
    expect(Array.from(output!.data)).toEqual(Array.from((sub.predict(x) as tf.Tensor).dataSync()));

    const [kernelI] = sink.find({ layer: 'lstm_a', kind: 'weight-grad', part: 'kernel/i' });
    const fdKernel = fdWeightGrad(lstm.cell.kernel!, loss, coordinates(F * 4 * U, 64));
    const fdI = new Float64Array(F * U);
    for (let r = 0; r < F; r++) for (let c = 0; c < U; c++) fdI[r * U + c] = fdKernel[r * 4 * U + c]!;
    expect(relativeError(kernelI!.data, fdI)).toBeLessThan(TOLERANCE);
    model.setWeights(trained);
  });

  it('resolves indices against the layers the user sees, not the Sequential inner model', async () => {
    const model = lstmModel();
    const sink = new MemorySink();
    const { x, y } = data();
    await model.fit(x, y, {
      epochs: 1,
      batchSize: N,
      verbose: 0,
      callbacks: [gradientCallback({ mode: 'batch', every: 1, layers: [1], capture: ['output-grad'], sink })],
    });
    expect(sink.snapshots.map((s) => s.layer)).toEqual(['gru_b']);
  });
});

describe('training is untouched', () => {
  it('leaks no tensors over a fit with 100 snapshots, in both modes', async () => {
    const model = lstmModel(4);
    const { x, y } = data();
    const probe = data();
    const all = ['output-grad', 'output', 'input-grad', 'weight-grad', 'weight'] as const;
    // Warm up: optimizer slots and the like are created by the first fit.
    await model.fit(x, y, { epochs: 1, batchSize: N, verbose: 0 });
    const before = tf.memory().numTensors;
    const probeSink = new MemorySink();
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 2,
      verbose: 0,
      callbacks: [gradientCallback({ every: 1, capture: [...all], probe, sink: probeSink })],
    });
    const batchSink = new MemorySink();
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 2,
      verbose: 0,
      callbacks: [gradientCallback({ mode: 'batch', every: 1, capture: [...all], sink: batchSink })],
    });
    expect(probeSink.snapshots.length + batchSink.snapshots.length).toBeGreaterThanOrEqual(100);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the same final weights with and without the callback', async () => {
    const { x, y } = data();
    const fit = async (callbacks: tf.Callback[]) => {
      const model = lstmModel(5);
      await model.fit(x, y, { epochs: 3, batchSize: 2, shuffle: false, verbose: 0, callbacks });
      return model.getWeights().map((w) => Array.from(w.dataSync()));
    };
    const plain = await fit([]);
    const all = ['output-grad', 'output', 'input-grad', 'weight-grad', 'weight'] as const;
    expect(await fit([gradientCallback({ mode: 'batch', every: 1, capture: [...all] })])).toEqual(plain);
    expect(await fit([gradientCallback({ every: 1, capture: [...all], probe: data() })])).toEqual(plain);
  });

  it('records non-finite gradients, counts them and warns once', async () => {
    const model = lstmModel(6);
    const { x, y } = data();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const probeY = randn([N, 1], 11).mul(tf.tensor2d([[1], [Number.POSITIVE_INFINITY], [1], [1]]));
    const sink = new MemorySink();
    const cb = gradientCallback({ every: 1, capture: ['output-grad'], probe: { x, y: probeY }, sink });
    await model.fit(x, y, { epochs: 2, batchSize: N, verbose: 0, callbacks: [cb] });
    expect(sink.snapshots).toHaveLength(4);
    expect(sink.snapshots.every((s) => s.nonFinite > 0)).toBe(true);
    const s = sink.snapshots[0]!;
    expect(s.nonFinite).toBe(Array.from(s.data).filter((v) => !Number.isFinite(v)).length);
    expect(cb.stats.nonFiniteSnapshots).toBe(4);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/non-finite values in output-grad of layer 'lstm_a'/);
  });
});

describe('a failing sink never stops training', () => {
  const throwing: Sink = {
    write: async () => {
      throw new Error('disk on fire');
    },
  };

  it('a throwing sink: training finishes, snapshots counted as dropped, one warning', async () => {
    const model = lstmModel(7);
    const { x, y } = data();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const cb = gradientCallback({ mode: 'batch', every: 1, capture: ['output-grad'], sink: throwing });
    const history = await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0, callbacks: [cb] });
    expect(history.history.loss).toHaveLength(3);
    expect(cb.stats).toMatchObject({ captures: 6, written: 0, dropped: 12 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/disk on fire/);
  });

  it('a stalled sink: writes past the limit are dropped after the timeout, training finishes', async () => {
    const model = lstmModel(8);
    const { x, y } = data();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const stalled: Sink = { write: () => new Promise<void>(() => {}) };
    const cb = gradientCallback({
      mode: 'batch',
      every: 1,
      capture: ['output-grad'],
      sink: stalled,
      maxPendingWrites: 3,
      sinkTimeoutMs: 20,
    });
    const history = await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0, callbacks: [cb] });
    expect(history.history.loss).toHaveLength(3);
    expect(cb.stats.written).toBe(0);
    expect(cb.stats.dropped).toBe(12 - 3);
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('stalled'))).toHaveLength(1);
  });

  it("onSinkError 'throw' stops fit with the sink's error", async () => {
    const model = lstmModel(9);
    const { x, y } = data();
    const cb = gradientCallback({ mode: 'batch', every: 1, sink: throwing, onSinkError: 'throw' });
    await expect(model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0, callbacks: [cb] })).rejects.toThrow(
      'disk on fire',
    );
  });
});

describe('bad input gets a clear error', () => {
  const probe = data();

  it.each([
    [{ every: 0, probe }, 'every must be an integer >= 1, got 0'],
    [{ every: 2.5, probe }, 'every must be an integer >= 1, got 2.5'],
    [{ at: [20, -1], probe }, 'at[1] must be an integer >= 0, got -1'],
    [{ at: 20, probe }, 'at must be an array of iterations, got 20'],
    [{ mode: 'batch', at: [0] }, "iteration 0 (before training) can only be recorded in mode 'probe'"],
    [{ mode: 'fast', probe }, "mode must be 'probe' or 'batch', got \"fast\""],
    [
      { capture: ['grads'], probe },
      'capture: unknown kind "grads"; expected one of output-grad, output, input-grad, weight-grad, weight',
    ],
    [{}, "probe: { x, y } is required in mode 'probe'"],
    [{ onSinkError: 'ignore', probe }, "onSinkError must be 'warn' or 'throw', got \"ignore\""],
    [
      { captur: ['input-grad'], probe },
      "unknown option 'captur' for gradientCallback; did you mean 'capture'?",
    ],
    [
      { probe, sinkTimeout: 5 },
      "unknown option 'sinkTimeout' for gradientCallback; did you mean 'sinkTimeoutMs'?",
    ],
    [null, 'the options of gradientCallback must be an object, got null'],
  ])('gradientCallback(%j)', (args, message) => {
    expect(() => gradientCallback(args as never)).toThrow(GradscopeError);
    expect(() => gradientCallback(args as never)).toThrow(message);
  });

  const fitWith = (args: Parameters<typeof gradientCallback>[0]) => {
    const model = lstmModel();
    const { x, y } = data();
    return model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [gradientCallback(args)] });
  };

  it('an unknown layer name lists the layers with indices and classes', async () => {
    await expect(fitWith({ layers: ['lstm_z'], probe })).rejects.toThrow(
      "layers: no layer named 'lstm_z' in model 'demo_model'. Its layers are:\n  0: lstm_a (LSTM)\n  1: gru_b (GRU)\n  2: out (Dense)",
    );
  });

  it('an index out of range says the range', async () => {
    await expect(fitWith({ layers: [7], probe })).rejects.toThrow('layers: index 7 is out of range: model');
  });

  it('a name matching several layers lists them', async () => {
    const model = tf.sequential();
    model.add(tf.layers.lstm({ units: 2, returnSequences: true, inputShape: [T, F], name: 'rnn_1' }));
    model.add(tf.layers.lstm({ units: 2, name: 'rnn_2' }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await expect(getLayerGradients(model, { x: probe.x, y: tf.zeros([N, 2]), layer: 'rnn' })).rejects.toThrow(
      "layers: 'rnn' matches 2 layers (0: rnn_1, 1: rnn_2); give the full name or the index",
    );
  });

  it('a probe that does not fit the model says expected vs got, for inputs and labels', async () => {
    await expect(fitWith({ probe: { x: tf.zeros([N, T, 5]), y: probe.y } })).rejects.toThrow(
      'probe.x: expected shape [any, 6, 2] (any batch size), got [4, 6, 5]',
    );
    await expect(fitWith({ probe: { x: probe.x, y: tf.zeros([N, 3]) } })).rejects.toThrow(
      'probe.y: expected shape [any, 1] (any batch size), got [4, 3]',
    );
    await expect(fitWith({ probe: { x: probe.x, y: tf.zeros([N + 1, 1]) } })).rejects.toThrow(
      'probe: x and y must have the same number of samples, got 4 and 5',
    );
    await expect(fitWith({ probe: { ...probe, sampleWeight: [1, 2] } })).rejects.toThrow(
      'probe.sampleWeight: expected shape [4] (one weight per sample), got [2]',
    );
  });

  it('an uncompiled model', async () => {
    const model = tf.sequential();
    model.add(tf.layers.lstm({ units: 2, inputShape: [T, F] }));
    await expect(getLayerGradients(model, { x: probe.x, y: tf.zeros([N, 2]), layer: 0 })).rejects.toThrow(
      /is not compiled: call model.compile\(\{ optimizer, loss \}\) first/,
    );
  });

  it('getLayerGradients refuses an unknown option, naming it and the closest one', async () => {
    const model = tf.sequential();
    model.add(tf.layers.lstm({ units: 2, inputShape: [T, F] }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const args = { x: probe.x, y: tf.zeros([N, 2]), layer: 0, knd: 'input-grad' };
    await expect(getLayerGradients(model, args as never)).rejects.toThrow(
      new GradscopeError("unknown option 'knd' for getLayerGradients; did you mean 'kind'?"),
    );
  });

  it("a model without recurrent layers and layers: 'recurrent'", async () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 1, inputShape: [3] }));
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await expect(
      model.fit(tf.zeros([2, 3]), tf.zeros([2, 1]), {
        verbose: 0,
        callbacks: [gradientCallback({ mode: 'batch' })],
      }),
    ).rejects.toThrow(/matched no layer: model '.*' has no SimpleRNN, LSTM, GRU or Bidirectional layer/);
  });
});

describe('training scalars', () => {
  // Many fast steps: a SimpleRNN of 2 units over 3 timesteps.
  function tinyModel(metrics?: string[]) {
    const model = tf.sequential({ name: 'tiny' });
    model.add(tf.layers.simpleRNN({ units: 2, inputShape: [3, F], name: 'rnn', ...seeded(31) }));
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 32 }) }));
    model.compile({
      optimizer: tf.train.adam(0.01),
      loss: 'meanSquaredError',
      ...(metrics ? { metrics } : {}),
    });
    return model;
  }
  const tinyData = () => ({ x: randn([N, 3, F], 33), y: randn([N, 1], 34) });

  it('every step of a real fit: the loss and every metric, equal to the fit logs, and the probe loss', async () => {
    const model = tinyModel(['mae']);
    const { x, y } = tinyData();
    const probe = { x: randn([N, 3, F], 13), y: randn([N, 1], 14) };
    // A second callback reads the same logs itself (scalar tensors in a tf.Callback subclass).
    const steps: Record<string, number>[] = [];
    const epochs: Record<string, number>[] = [];
    const read = async (logs?: tf.Logs) => {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(logs ?? {}))
        out[k] = typeof v === 'number' ? v : (await (v as tf.Tensor).data())[0]!;
      return out;
    };
    class Observer extends tf.Callback {
      override async onBatchEnd(_batch: number, logs?: tf.Logs) {
        steps.push(await read(logs));
      }
      override async onEpochEnd(_epoch: number, logs?: tf.Logs) {
        epochs.push(await read(logs));
      }
    }
    const sink = new MemorySink();
    const cb = gradientCallback({ every: 25, probe, sink });
    // Batch 1 over 4 samples, 30 epochs: 120 steps, more than two batches of 50 and a remainder.
    await model.fit(x, y, {
      epochs: 30,
      batchSize: 1,
      verbose: 0,
      validationData: [probe.x, probe.y],
      callbacks: [cb, new Observer()],
    });
    expect(steps).toHaveLength(120);
    const series = (name: string) => sink.scalars.filter((p) => p.name === name);
    for (const name of ['loss', 'mae']) {
      const points = series(name);
      expect(points.map((p) => p.iteration)).toEqual(steps.map((_, i) => i + 1));
      expect(points.map((p) => p.value)).toEqual(steps.map((s) => s[name]));
    }
    // Validation metrics once per epoch, at the step that ended it.
    for (const name of ['val_loss', 'val_mae']) {
      const points = series(name);
      expect(points.map((p) => p.iteration)).toEqual(epochs.map((_, i) => 4 * (i + 1)));
      expect(points.map((p) => p.value)).toEqual(epochs.map((e) => e[name]));
    }
    const probeLoss = series('probe/loss');
    expect(probeLoss.map((p) => p.iteration)).toEqual([25, 50, 75, 100]);
    expect(probeLoss.map((p) => p.value)).toEqual(
      probeLoss.map((p) => sink.find({ iteration: p.iteration, layer: 'rnn' })[0]!.loss),
    );
    expect(new Set(sink.scalars.map((p) => p.name))).toEqual(
      new Set(['loss', 'mae', 'val_loss', 'val_mae', 'probe/loss', 'probe/baseline']),
    );
    expect(sink.scalars.every((p) => p.run === cb.runId && Number.isFinite(p.time))).toBe(true);
    expect(cb.stats).toMatchObject({ scalarsWritten: sink.scalars.length, scalarsDropped: 0 });
  });

  it('a stalled writeScalars never holds training; the stalled batches are counted', async () => {
    const model = tinyModel();
    const { x, y } = tinyData();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const sink: Sink = {
      write: async () => {},
      writeScalars: () => new Promise<void>(() => {}),
    };
    const cb = gradientCallback({ mode: 'batch', at: [1], sink, maxPendingWrites: 1, sinkTimeoutMs: 20 });
    // 200 steps: 4 batches of 50; the first never finishes, the next three find no free slot.
    const history = await model.fit(x, y, { epochs: 50, batchSize: 1, verbose: 0, callbacks: [cb] });
    expect(history.history.loss).toHaveLength(50);
    expect(cb.stats).toMatchObject({ scalarsWritten: 0, scalarsDropped: 150 });
    expect(warn.mock.calls.some((c) => String(c[0]).includes('writeScalars stalled'))).toBe(true);
  });

  it("onSinkError 'throw': a failing writeScalars stops fit with its error", async () => {
    const model = tinyModel();
    const { x, y } = tinyData();
    const sink: Sink = {
      write: async () => {},
      writeScalars: async () => {
        throw new Error('scalars on fire');
      },
    };
    const cb = gradientCallback({ mode: 'batch', at: [1], sink, onSinkError: 'throw' });
    await expect(model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [cb] })).rejects.toThrow(
      'scalars on fire',
    );
  });

  it('scalars: false records none', async () => {
    const model = lstmModel(14);
    const { x, y } = data();
    const sink = new MemorySink();
    await model.fit(x, y, {
      epochs: 2,
      verbose: 0,
      callbacks: [gradientCallback({ mode: 'batch', every: 1, sink, scalars: false })],
    });
    expect(sink.snapshots.length).toBeGreaterThan(0);
    expect(sink.scalars).toHaveLength(0);
  });
});

describe('the stats tell what was stored', () => {
  it('counts snapshots a queueing sink accepted and later reported failed, not its earlier failures', async () => {
    const model = lstmModel(15);
    const { x, y } = data();
    let accepted = 0;
    // Like a store: write() resolves on acceptance, every third commit fails afterwards.
    const queueing = {
      failed: 5, // from an earlier run in the same file
      async write() {
        if (++accepted % 3 === 0) setTimeout(() => queueing.failed++, 0);
      },
      stats: () => ({ failed: queueing.failed }),
    };
    const cb = gradientCallback({ mode: 'batch', every: 1, capture: ['output-grad'], sink: queueing });
    await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0, callbacks: [cb] });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(accepted).toBe(12); // 6 steps × 2 layers
    expect(cb.stats).toMatchObject({ written: 8, dropped: 4 });
  });
});

describe('run ids', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('a page that is not a secure context (no crypto.randomUUID) still gets version 4 ids', () => {
    const real = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: (a: Uint8Array) => real.getRandomValues(a) });
    expect(globalThis.crypto.randomUUID).toBeUndefined();
    const ids = Array.from({ length: 50 }, () => gradientCallback({ mode: 'batch' }).runId);
    expect(ids.every((id) => UUID4.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(50);
  });

  it('without any crypto object too', () => {
    vi.stubGlobal('crypto', undefined);
    const ids = Array.from({ length: 50 }, () => gradientCallback({ mode: 'batch' }).runId);
    expect(ids.every((id) => UUID4.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(50);
  });
});
