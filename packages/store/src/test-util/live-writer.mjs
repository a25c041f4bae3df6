// A trainer process for the liveness tests (the store's, on PostgreSQL; the server's, on a file): opens the
// store at argv[2] (a file or a postgres:// URL), starts run argv[3], writes one snapshot, prints "ready" and
// stays alive (its writer beats the run's heartbeat) until it is killed.
import { openStore } from '../../dist/index.js';

const [url, run] = process.argv.slice(2);
const store = openStore(url);
await store.startRun({
  id: run,
  name: run,
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'probe', every: 1, capture: ['output-grad'], layers: ['lstm_1'] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'test',
});
await store.write({
  run,
  iteration: 1,
  epoch: 0,
  batch: 0,
  layer: 'lstm_1',
  layerClass: 'LSTM',
  kind: 'output-grad',
  shape: [1, 2, 1],
  dims: ['sample', 'timestep', 'channel'],
  data: new Float32Array([0.5, 1]),
  loss: 1,
  time: Date.now(),
  nonFinite: 0,
});
await store.flush();
process.stdout.write('ready\n');
setInterval(() => {}, 60_000);
