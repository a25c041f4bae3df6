// Example trainer: the See RNN task on the GPU, logging gradients to a gradscope server over HTTP.
import { gradientCallback, HttpSink } from '@gradscope/capture';
import * as tf from '@tensorflow/tfjs-node-gpu';

const url = process.env.GRADSCOPE_URL ?? 'http://127.0.0.1:6174';
const token = process.env.GRADSCOPE_TOKEN;
const units = Number(process.env.UNITS ?? 256);
const [samples, timesteps] = [16, 100];

const model = tf.sequential();
model.add(tf.layers.lstm({ units, returnSequences: true, inputShape: [timesteps, 2 * units] }));
model.add(tf.layers.lstm({ units }));
model.compile({ optimizer: tf.train.adam(4e-3), loss: 'meanSquaredError' });

const batch = () => ({
  x: tf.randomNormal([samples, timesteps, 2 * units]),
  y: tf.randomUniform([samples, units], -1, 1),
});
const sink = new HttpSink({ url, token });
const callback = gradientCallback({
  every: 20,
  at: [200, 400],
  probe: batch(),
  sink,
  runName: `gpu-lstm${units}`,
});
for (let done = 0; done < 400; done += 40) {
  const { x, y } = batch();
  await model.fit(x, y, { epochs: 40, batchSize: samples, verbose: 0, callbacks: [callback] });
  tf.dispose([x, y]);
}
await sink.close();
console.log(`done: ${callback.stats.written} snapshots sent to ${url}, ${callback.stats.dropped} dropped`);
