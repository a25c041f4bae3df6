// Settings search for the labelled benchmark (outside the capture): trains candidate runs with plain fit on
// the wasm backend and prints the probe MSE ÷ the constant predictor's at a few steps, and ms per step.
// Build first (pnpm --filter @gradscope/demo build). Usage:
//   node apps/demo/src/labelled/search.mjs '<json array of partial LabelledRun>' [marks]
// e.g. node apps/demo/src/labelled/search.mjs '[{"cell":"gru","learningRate":0.005,"seed":1}]' 100,300,600
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fitFresh } from '../../dist/fit.js';
import { buildLabelledModel, PROBE_SEED } from '../../dist/labelled/runs.js';
import { CHANNELS, constantPredictorMse, delayedRecall } from '../../dist/labelled/tasks.js';

const base = {
  name: 'search',
  cell: 'gru',
  units: 16,
  layout: 'single',
  task: { timesteps: 48, cue: { first: 0, last: 7 } },
  learningRate: 5e-3,
  steps: 600,
  batch: 64,
  seed: 1,
  dataSeed: 1,
  probe: 256,
  every: 100,
};
const candidates = JSON.parse(process.argv[2] ?? '[{}]').map((c) => ({
  ...base,
  ...c,
  task: { ...base.task, ...c.task },
}));
const marks = new Set((process.argv[3] ?? '50,100,200,300,400,600').split(',').map(Number));
await tf.setBackend(process.env.BACKEND ?? 'wasm');
await tf.ready();
const data = (n, task, seed) => {
  const d = delayedRecall(n, task, seed);
  return { x: tf.tensor3d(d.x, [n, task.timesteps, CHANNELS]), y: tf.tensor2d(d.y, [n, 1]), t: d.y };
};
for (const run of candidates) {
  const probe = data(run.probe, run.task, PROBE_SEED);
  const base0 = constantPredictorMse(probe.t);
  const model = buildLabelledModel(run);
  const ratio = () => {
    const l = model.evaluate(probe.x, probe.y);
    const v = l.dataSync()[0] / base0;
    l.dispose();
    return v;
  };
  const seen = [`0:${ratio().toFixed(3)}`];
  let it = 0;
  let evalMs = 0;
  const t0 = performance.now();
  await fitFresh(model, {
    steps: run.steps,
    batch: run.batch,
    data: (samples, done) => data(samples, run.task, run.dataSeed * 1_000_003 + done),
    callbacks: {
      onBatchEnd: async () => {
        it++;
        if (marks.has(it) || it === run.steps) {
          const t1 = performance.now();
          seen.push(`${it}:${ratio().toFixed(3)}`);
          evalMs += performance.now() - t1;
        }
      },
    },
  });
  const ms = (performance.now() - t0 - evalMs) / run.steps;
  const { name, task, probe: _p, every: _e, ...rest } = run;
  console.log(
    `${JSON.stringify({ ...rest, T: task.timesteps, cue: task.cue, ind: task.independent })} ${ms.toFixed(1)} ms/step: ${seen.join(' ')}`,
  );
  model.dispose();
  tf.dispose([probe.x, probe.y]);
}
