// Every scalar of a real fit stored (issue 23): a GRU-16 over 48 timesteps, 608 steps of batch 64 on the wasm
// backend, a store as the sink, output-grad and input-grad every 30 steps on a 128-sample probe. Counts what
// the file holds against what the fit produced. Run alone: node scripts/bench/scalars.mjs [--scale 10]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gradientCallback } from '../../packages/capture/dist/index.js';
import { openReader, openStore } from '../../packages/store/dist/index.js';

const T = 48;
const BATCH = 64;
const STEPS_PER_EPOCH = 152;
const EVERY = 30;

export async function run({ quick = false, log = () => {}, scale = 1 } = {}) {
  await tf.setBackend('wasm');
  const epochs = quick ? 1 : 4 * scale;
  const steps = epochs * STEPS_PER_EPOCH;
  const model = tf.sequential();
  model.add(tf.layers.gru({ units: 16, inputShape: [T, 1], recurrentInitializer: 'glorotUniform' }));
  model.add(tf.layers.dense({ units: 1 }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  const [x, y] = [
    tf.randomNormal([BATCH * STEPS_PER_EPOCH, T, 1]),
    tf.randomNormal([BATCH * STEPS_PER_EPOCH, 1]),
  ];
  const [vx, vy] = [tf.randomNormal([128, T, 1]), tf.randomNormal([128, 1])];
  const probe = { x: tf.randomNormal([128, T, 1]), y: tf.randomNormal([128, 1]) };
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-scalars-'));
  try {
    const file = join(dir, 'fit.gradscope');
    const store = openStore(file);
    const cb = gradientCallback({ sink: store, every: EVERY, capture: ['output-grad', 'input-grad'], probe });
    const t0 = performance.now();
    await model.fit(x, y, {
      epochs,
      batchSize: BATCH,
      validationData: [vx, vy],
      callbacks: [cb],
      verbose: 0,
    });
    const fitMs = performance.now() - t0;
    await store.close();
    const reader = openReader(file);
    const count = (name) => reader.scalars(cb.runId, { names: [name] })[0]?.count ?? 0;
    const stored = { loss: count('loss'), probe: count('probe/loss'), val: count('val_loss') };
    reader.close();
    const captures = Math.floor(steps / EVERY);
    log(
      `${steps} steps in ${(fitMs / 1000).toFixed(0)} s: loss ${stored.loss}/${steps}, probe/loss ${stored.probe}/${captures}, val_loss ${stored.val}/${epochs}, dropped ${cb.stats.scalarsDropped}`,
    );
    const shape = `GRU-16 over ${T} timesteps, ${steps} steps of batch ${BATCH}, wasm, openStore sink, output-grad + input-grad every ${EVERY} steps on 128 probe samples`;
    return [
      {
        suite: 'scalars',
        metric: 'loss points stored ÷ fit steps',
        value: stored.loss / steps,
        unit: 'ratio',
        aim: '= 1',
        note: `${shape}: ${stored.loss} of ${steps}; probe/loss ${stored.probe} of ${captures}; val_loss ${stored.val} of ${epochs}; scalarsDropped ${cb.stats.scalarsDropped}; fit ${(fitMs / 1000).toFixed(0)} s`,
      },
    ];
  } finally {
    tf.dispose([x, y, vx, vy, probe.x, probe.y]);
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' } } });
  const rows = await run({ scale: Number(values.scale), log: (m) => console.error(m) });
  console.log(JSON.stringify(rows, null, 2));
}
