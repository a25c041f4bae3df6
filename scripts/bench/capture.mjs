// Capture cost on the wasm backend: a probe snapshot against one forward+backward (the floor), and
// fit wall time with the callback against fit without it. Run alone: node scripts/bench/capture.mjs
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLayerGradients, gradientCallback, MemorySink } from '../../packages/capture/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { median } from './lib/numbers.mjs';

const RUN_STUB = {
  name: 'bench',
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'batch', capture: ['output-grad'], layers: [] },
  backend: 'wasm',
  tfjsVersion: '4.22.0',
  host: 'bench',
};

/** CPU time of this process (user + system) spent by the last time() call, in ms. */
let lastCpu = 0;

async function time(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  lastCpu = (c.user + c.system) / 1000;
  return wall;
}

function lstmModel(units, timesteps, features) {
  const model = tf.sequential();
  // Glorot for the recurrent kernel too: the default orthogonal initializer is very slow in tfjs.
  model.add(
    tf.layers.lstm({
      units,
      returnSequences: true,
      inputShape: [timesteps, features],
      recurrentInitializer: 'glorotUniform',
    }),
  );
  model.add(tf.layers.dense({ units: 1 }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  return model;
}

const range = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

/** Runs `fn` while `layer`'s first input or output has `zero` added (the tap the floors differentiate at). */
function withZeroTap(layer, at, zero, fn) {
  const original = layer.call;
  layer.call = function tapped(inputs, kwargs) {
    if (at === 'input') {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const moved = tf.add(x, zero);
      return original.call(this, Array.isArray(inputs) ? [moved, ...inputs.slice(1)] : moved, kwargs);
    }
    const out = original.call(this, inputs, kwargs);
    return Array.isArray(out) ? [tf.add(out[0], zero), ...out.slice(1)] : tf.add(out, zero);
  };
  try {
    return fn();
  } finally {
    delete layer.call;
  }
}

/** `only`: a subset of 'probe', 'fit', 'scalars', 'store' to run (default all). */
export async function run({ quick = false, log = () => {}, only } = {}) {
  const want = (section) => only === undefined || only.includes(section);
  await tf.setBackend('wasm');
  await tf.ready();
  const units = quick ? 16 : 64;
  const [n, steps, features] = quick ? [8, 30, 8] : [16, 100, 8];
  const reps = quick ? 3 : 7;
  const model = lstmModel(units, steps, features);
  const x = tf.randomNormal([n, steps, features]);
  const y = tf.randomNormal([n, steps, 1]);
  const rows = [];
  const shape = `${n}×${steps}×${features} probe, LSTM-${units} → dense, wasm`;
  const loss = () => tf.losses.meanSquaredError(y, model.apply(x, { training: false }));
  const read = (value, grads) =>
    Promise.all([value.data(), ...grads.map((g) => g.data())]).then(() => tf.dispose([value, ...grads]));

  if (want('probe')) {
    // (a) one probe snapshot against three floors, all on the probe batch:
    // - output-grad vs forward + backward from the loss to a zero tap on the layer's output;
    // - input-grad vs forward + backward to a zero tap on the layer's input (through its recurrence);
    // - output-grad vs the old floor, forward + backward over every trainable weight.
    const layer = model.layers[0];
    const outZero = tf.zeros([n, steps, units]);
    const inZero = tf.zeros([n, steps, features]);
    const tapFloor = (at, zero) => () =>
      withZeroTap(layer, at, zero, () => {
        const { value, grads } = tf.valueAndGrads(loss)([zero]);
        return read(value, grads);
      });
    const floors = {
      output: tapFloor('output', outZero),
      input: tapFloor('input', inZero),
      weights: () => {
        const { value, grads } = tf.variableGrads(loss);
        return read(value, Object.values(grads));
      },
    };
    const snapshot = (kind) => () => getLayerGradients(model, { x, y, layer: 0, kind });
    const work = {
      'output-grad': snapshot('output-grad'),
      'input-grad': snapshot('input-grad'),
      ...floors,
    };
    for (const fn of Object.values(work)) await fn(); // warm-up
    const ms = Object.fromEntries(Object.keys(work).map((k) => [k, []]));
    // CPU time beside wall time: on a shared machine the wall clock also counts other processes' turns.
    const cpu = Object.fromEntries(Object.keys(work).map((k) => [k, []]));
    // Interleaved, the order rotated each repetition so that no measurement always follows the same one.
    const entries = Object.entries(work);
    for (let i = 0; i < reps; i++) {
      for (let j = 0; j < entries.length; j++) {
        const [k, fn] = entries[(i + j) % entries.length];
        ms[k].push(await time(fn));
        cpu[k].push(lastCpu);
      }
    }
    const ratios = (a, b) => ms[a].map((v, i) => v / ms[b][i]);
    const report = (metric, a, b, aim, floorName) => {
      const r = ratios(a, b);
      const rc = cpu[a].map((v, i) => v / cpu[b][i]);
      log(
        `${metric}: ${median(r).toFixed(2)} (${median(ms[a]).toFixed(0)} vs ${median(ms[b]).toFixed(0)} ms)`,
      );
      rows.push({
        suite: 'capture',
        metric,
        value: median(r),
        unit: 'ratio',
        aim,
        note: `${shape}; median of ${reps} interleaved repetitions, range ${range(r)}; ${median(ms[a]).toFixed(0)} ms vs ${floorName} ${median(ms[b]).toFixed(0)} ms; CPU time ratio ${median(rc).toFixed(2)} (range ${range(rc)})`,
      });
    };
    report(
      'probe snapshot of output-grad ÷ forward+backward to a zero tap on the layer output',
      'output-grad',
      'output',
      '≤ 1.15',
      'floor',
    );
    report(
      'probe snapshot of input-grad ÷ forward+backward to a zero tap on the layer input',
      'input-grad',
      'input',
      '≤ 1.15',
      'floor',
    );
    report(
      'probe snapshot of output-grad ÷ forward+backward over every weight (the old floor)',
      'output-grad',
      'weights',
      '≪ 1',
      'full pass',
    );
    tf.dispose([outZero, inZero]);
  }

  // (b), (c) fit wall time with the callback ÷ without, alternating runs so drift hits both alike.
  const trainN = quick ? 32 : 64;
  const tx = tf.randomNormal([trainN, steps, features]);
  const ty = tf.randomNormal([trainN, steps, 1]);
  const fitReps = quick ? 1 : 3;
  const timeFit = (callbacks, epochs) =>
    time(() => model.fit(tx, ty, { epochs, batchSize: n, shuffle: false, verbose: 0, callbacks }));
  const compare = async (label, makeCallback, epochs, aim) => {
    const without = [];
    const withCb = [];
    for (let i = 0; i < fitReps; i++) {
      without.push(await timeFit([], epochs));
      withCb.push(await timeFit([makeCallback()], epochs));
    }
    const iterations = (trainN / n) * epochs;
    log(`${label}: ${median(withCb).toFixed(0)} ms vs ${median(without).toFixed(0)} ms`);
    rows.push({
      suite: 'capture',
      metric: `fit with ${label} ÷ fit without`,
      value: median(withCb) / median(without),
      unit: 'ratio',
      aim,
      note: `${iterations} iterations of batch ${n}, LSTM-${units}, wasm; medians of ${fitReps}: ${median(withCb).toFixed(0)} ms vs ${median(without).toFixed(0)} ms`,
    });
  };
  if (want('fit')) {
    await timeFit([], 1); // warm-up
    await compare(
      "mode 'batch' every step",
      () => gradientCallback({ mode: 'batch', every: 1, sink: new MemorySink() }),
      quick ? 1 : 2,
      '≤ 1.05',
    );
    await compare(
      "mode 'probe' every 20",
      () => gradientCallback({ every: 20, probe: { x, y }, sink: new MemorySink() }),
      5,
      'small',
    );
  }

  // (e) scalars every step (the fit logs, read back in batches): fit with a callback that records only
  // scalars ÷ fit without any callback, on a small model whose steps are short enough for a per-step cost
  // to show.
  if (want('scalars')) {
    const [sUnits, sSteps, sBatch, sN] = quick ? [8, 10, 8, 64] : [16, 20, 16, 128];
    const small = lstmModel(sUnits, sSteps, features);
    const sx = tf.randomNormal([sN, sSteps, features]);
    const sy = tf.randomNormal([sN, sSteps, 1]);
    const epochs = quick ? 5 : 13;
    const stepsPerFit = (sN / sBatch) * epochs;
    const fitSmall = (callbacks) =>
      time(() => small.fit(sx, sy, { epochs, batchSize: sBatch, shuffle: false, verbose: 0, callbacks }));
    let points = 0;
    let inCallback = 0;
    const recording = () => {
      const sink = new MemorySink();
      // Due at no iteration of this fit: the callback records nothing but the scalars.
      const cb = gradientCallback({ mode: 'batch', at: [10 ** 9], sink });
      // The time training waits for the callback each step (the rest of the work is in the background).
      const onBatchEnd = cb.onBatchEnd.bind(cb);
      cb.onBatchEnd = async (batch, logs) => {
        const t0 = performance.now();
        await onBatchEnd(batch, logs);
        inCallback += performance.now() - t0;
      };
      return [cb, sink];
    };
    await fitSmall([]); // warm-up
    await fitSmall([recording()[0]]);
    const scalarReps = quick ? 3 : 5;
    const without = [];
    const withScalars = [];
    const cpuWithout = [];
    const cpuWith = [];
    inCallback = 0;
    for (let i = 0; i < scalarReps; i++) {
      without.push(await fitSmall([]));
      cpuWithout.push(lastCpu);
      const [cb, sink] = recording();
      withScalars.push(await fitSmall([cb]));
      cpuWith.push(lastCpu);
      points = sink.scalars.length;
    }
    const r = withScalars.map((v, i) => v / without[i]);
    const rc = cpuWith.map((v, i) => v / cpuWithout[i]);
    log(
      `scalars every step: ${median(r).toFixed(3)} (${median(withScalars).toFixed(0)} vs ${median(without).toFixed(0)} ms)`,
    );
    rows.push({
      suite: 'capture',
      metric: 'fit recording scalars every step ÷ fit without',
      value: median(r),
      unit: 'ratio',
      aim: '≤ 1.02',
      note: `${stepsPerFit} steps of batch ${sBatch}, LSTM-${sUnits} over ${sSteps} timesteps, wasm (${(median(without) / stepsPerFit).toFixed(1)} ms a step); ${points} points a fit into a MemorySink; median of ${scalarReps} interleaved repetitions, range ${range(r)}; ${median(withScalars).toFixed(0)} ms vs ${median(without).toFixed(0)} ms; CPU time ratio ${median(rc).toFixed(3)} (range ${range(rc)})`,
    });
    const perStep = inCallback / (scalarReps * stepsPerFit);
    rows.push({
      suite: 'capture',
      metric: "training's wait for the scalar-recording callback ÷ a step",
      value: perStep / (median(without) / stepsPerFit),
      unit: 'ratio',
      aim: '≤ 0.02',
      note: `onBatchEnd (collecting the logs, every 50 steps stacking them for one read-back) ${(perStep * 1000).toFixed(0)} µs a step, mean over ${scalarReps * stepsPerFit} steps, vs ${(median(without) / stepsPerFit).toFixed(1)} ms a step`,
    });
    tf.dispose([small, sx, sy].filter((t) => t instanceof tf.Tensor));
  }

  if (want('store')) {
    // (d) the store on the training thread: the same capture into a store file ÷ into memory.
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-capture-'));
    try {
      const inMemory = [];
      const inStore = [];
      const startup = [];
      const epochs = quick ? 1 : 2;
      for (let i = 0; i < fitReps; i++) {
        inMemory.push(
          await timeFit(
            [
              gradientCallback({
                mode: 'batch',
                every: 1,
                capture: ['output-grad', 'output'],
                sink: new MemorySink(),
              }),
            ],
            epochs,
          ),
        );
        const store = openStore(join(dir, `run-${i}.gradscope`));
        const callback = gradientCallback({
          mode: 'batch',
          every: 1,
          capture: ['output-grad', 'output'],
          sink: store,
        });
        // Start the writer threads first (a one-time cost per process, reported below), as a trainer does
        // when it opens the store before training; the callback then updates this run record.
        const t0 = performance.now();
        await store.startRun({ ...RUN_STUB, id: callback.runId });
        await store.flush();
        startup.push(performance.now() - t0);
        // The store's close (flush of the last snapshots) is part of the run's cost.
        inStore.push(
          await time(async () => {
            await model.fit(tx, ty, {
              epochs,
              batchSize: n,
              shuffle: false,
              verbose: 0,
              callbacks: [callback],
            });
            await store.close();
          }),
        );
      }
      log(`store sink ${median(inStore).toFixed(0)} ms vs memory sink ${median(inMemory).toFixed(0)} ms`);
      rows.push({
        suite: 'capture',
        metric: 'fit + store.close() with a store sink ÷ fit with a MemorySink',
        value: median(inStore) / median(inMemory),
        unit: 'ratio',
        aim: '≈ 1',
        note: `mode 'batch', output-grad + output every step (${(trainN / n) * epochs * 2} snapshots of ${n}×${steps}×${units}), LSTM-${units}, wasm; medians of ${fitReps}: ${median(inStore).toFixed(0)} ms vs ${median(inMemory).toFixed(0)} ms`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  tf.dispose([model, x, y, tx, ty].filter((t) => t instanceof tf.Tensor));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error, only }))
    console.log(row);
}
