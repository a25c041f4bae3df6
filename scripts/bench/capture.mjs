// Capture cost on the wasm backend: a probe snapshot against one forward+backward (the floor), and
// fit wall time with the callback against fit without it. Run alone: node scripts/bench/capture.mjs
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLayerGradients, gradientCallback, MemorySink } from '../../packages/capture/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';

const RUN_STUB = {
  name: 'bench',
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'batch', capture: ['output-grad'], layers: [] },
  backend: 'wasm',
  tfjsVersion: '4.22.0',
  host: 'bench',
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function time(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
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

export async function run({ quick = false, log = () => {} } = {}) {
  await tf.setBackend('wasm');
  await tf.ready();
  const units = quick ? 16 : 64;
  const [n, steps, features] = quick ? [8, 30, 8] : [16, 100, 8];
  const reps = quick ? 3 : 7;
  const model = lstmModel(units, steps, features);
  const x = tf.randomNormal([n, steps, features]);
  const y = tf.randomNormal([n, steps, 1]);
  const rows = [];
  const shape = `${n}×${steps}×${features} probe, LSTM-${units}, wasm`;

  // (a) one probe snapshot vs the floor: one forward + backward over every trainable weight.
  const floorStep = () => {
    const { value, grads } = tf.variableGrads(() =>
      tf.losses.meanSquaredError(y, model.apply(x, { training: false })),
    );
    return Promise.all([value.data(), ...Object.values(grads).map((g) => g.data())]).then(() =>
      tf.dispose([value, ...Object.values(grads)]),
    );
  };
  const snapshot = () => getLayerGradients(model, { x, y, layer: 0 });
  await floorStep();
  await snapshot();
  const floor = [];
  const ours = [];
  for (let i = 0; i < reps; i++) {
    floor.push(await time(floorStep));
    ours.push(await time(snapshot));
  }
  log(`probe snapshot ${median(ours).toFixed(0)} ms, forward+backward ${median(floor).toFixed(0)} ms`);
  rows.push({
    suite: 'capture',
    metric: 'probe snapshot ÷ forward+backward',
    value: median(ours) / median(floor),
    unit: 'ratio',
    aim: '≤ 1.15',
    note: `${shape}; medians of ${reps}: ${median(ours).toFixed(0)} ms vs ${median(floor).toFixed(0)} ms`,
  });

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
    quick ? 5 : 10,
    'small',
  );

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
  tf.dispose([model, x, y, tx, ty].filter((t) => t instanceof tf.Tensor));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
