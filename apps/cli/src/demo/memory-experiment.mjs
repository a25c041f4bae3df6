// Settings search for the demo's memory set (the adding problem), outside the demo and the capture:
// plain tfjs on the wasm backend. Prints per-step time and the probe MSE at a few iterations per cell.
//   node apps/cli/src/demo/memory-experiment.mjs [T] [steps] [cells] [lr] [units] [forgetBias] [batch] [dataSeed]
// forgetBias: 0 = tfjs default (0), 1 = unitForgetBias, > 1 = that value set on the forget-gate bias.
// e.g. node apps/cli/src/demo/memory-experiment.mjs 50 400 lstm,gru,simpleRNN 0.01 16 1
//
// Measured 2026-12-01 (wasm, Node 20, 2 cores shared with other jobs: load average 5–17, so ms/step here is
// 2–10× the unloaded figures of ~52 / 39 / 20 ms for LSTM / GRU / SimpleRNN at T = 50, batch 32). Probe:
// 256 samples, probe MSE at iterations 20 / 100 / 200 / 300 / 400 (/ 500); the mean predictor scores ≈ 0.167.
//   T=50 16 units lr 1e-2 batch 32 seed 1, LSTM unitForgetBias (bias 1): 0.170 0.166 0.178 0.181 0.163  (stuck)
//     GRU:                                                                  0.209 0.161 0.138 0.0035 0.0019
//     SimpleRNN:                                                            0.178 0.172 0.190 0.170 0.171 (stuck)
//   LSTM forget bias 3, batch 64, seed 1:                                   0.172 0.175 0.157 0.046 0.0045
//   LSTM forget bias 3, batch 32, seed 1:                                   0.184 0.170 0.194 0.139 0.0054
//   LSTM forget bias 3, batch 64, lr 2e-2, seed 1:                          0.177 0.171 0.168 0.158 0.0041
//   seed 7, batch 32, 500 steps, LSTM forget bias 3:                        0.169 0.169 0.174 0.166 0.145 0.0046
//     GRU:                                                                  0.200 0.164 0.135 0.0061 0.0012 0.0009
//     SimpleRNN:                                                            0.185 0.184 0.185 0.170 0.166 0.168
//   seed 7, LSTM forget bias 5, batch 32:                                   0.168 0.167 0.174 0.168 0.170 0.166 (stuck)
//   seed 7, LSTM forget bias 3, batch 64:                                   0.169 0.167 0.164 0.059 0.0041 0.0025
// So the demo uses forget bias 3 (not tfjs's 0 or unitForgetBias's 1, and not 5, which stayed at the mean
// for 500 steps here), sigmoid gates, batch 64 (as cheap per step as 32: per-op bound), lr 1e-2, 500 steps.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { addingProblem } from '../../dist/demo/adding.js';

const [
  T = 50,
  steps = 400,
  cellsArg = 'lstm,gru,simpleRNN',
  lr = 0.01,
  units = 16,
  forgetBias = 1,
  batchArg = 32,
  dataSeed = 1,
] = process.argv.slice(2).map((a, i) => (i === 2 ? a : Number(a)));
const batch = Number(batchArg);
const cells = String(cellsArg).split(',');

/** The demo's own adding problem (built: run `pnpm build` first), as tensors. */
function adding(n, T, seed) {
  const { x, y } = addingProblem(n, T, seed);
  return { x: tf.tensor3d(x, [n, T, 2]), y: tf.tensor2d(y, [n, 1]) };
}

await tf.setBackend('wasm');
await tf.ready();
const probe = adding(256, T, 12345);
const train = adding(steps * batch, T, dataSeed);
for (const cell of cells) {
  const model = tf.sequential();
  model.add(
    tf.layers[cell]({
      units,
      inputShape: [T, 2],
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: 2 }),
      ...(cell === 'simpleRNN' ? {} : { recurrentActivation: 'sigmoid' }),
      ...(cell === 'lstm' && forgetBias === 1 ? { unitForgetBias: true } : {}),
    }),
  );
  if (cell === 'lstm' && forgetBias > 1) {
    // Bias layout [i, f, c, o]: open the forget gate wider than unitForgetBias's 1.
    const [kernel, recurrent] = model.layers[0].getWeights();
    const b = new Float32Array(4 * units);
    b.fill(forgetBias, units, 2 * units);
    model.layers[0].setWeights([kernel, recurrent, tf.tensor1d(b)]);
  }
  model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  model.compile({ optimizer: tf.train.adam(lr), loss: 'meanSquaredError' });
  const marks = new Set([20, 100, 200, 300, 400, 600, 800, steps]);
  const seen = [];
  let it = 0;
  const started = performance.now();
  let evalMs = 0;
  await model.fit(train.x, train.y, {
    batchSize: batch,
    epochs: 1,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onBatchEnd: async () => {
        it++;
        if (marks.has(it)) {
          const t0 = performance.now();
          const l = model.evaluate(probe.x, probe.y);
          seen.push(`${it}:${(await l.data())[0].toFixed(4)}`);
          l.dispose();
          evalMs += performance.now() - t0;
        }
      },
    },
  });
  const ms = (performance.now() - started - evalMs) / steps;
  console.log(
    `${cell} T=${T} units=${units} lr=${lr} forgetBias=${forgetBias} batch=${batch} seed=${dataSeed}: ${ms.toFixed(1)} ms/step; probe MSE ${seen.join(' ')}`,
  );
  model.dispose();
}
