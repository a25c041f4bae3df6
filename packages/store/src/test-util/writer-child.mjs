// A trainer stand-in for the crash and concurrency tests: writes snapshots of varying size to a store and
// prints `ack <iteration> <sha256 of the float32 bytes>` for every snapshot once it is acknowledged
// (after flush() in 'flush' mode, after write() in 'durable' mode). Usage:
//   node writer-child.mjs <db> <run id> <count> <flush|durable>
import { createHash } from 'node:crypto';
import { openStore } from '../../dist/index.js';

const [db, run, countArg, mode] = process.argv.slice(2);
const count = Number(countArg);
const durable = mode === 'durable';

function values(seed, n) {
  const out = new Float32Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x / 4294967296 - 0.5) * 10 ** ((i % 9) - 6);
  }
  return out;
}

const store = openStore(db, {
  durable,
  onError: (err) => process.stderr.write(`store error: ${err.message}\n`),
});
await store.startRun({
  id: run,
  name: `child ${run}`,
  startedAt: Date.now(),
  model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
  options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm_1'] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'child',
});
process.stdout.write('ready\n');

let unacked = [];
for (let i = 0; i < count; i++) {
  const samples = 1 + ((i * 7) % 24);
  const shape = [samples, 100, 64];
  const data = values(i + run.length * 1000 + run.charCodeAt(run.length - 1) * 7, samples * 100 * 64);
  const hash = createHash('sha256').update(new Uint8Array(data.buffer)).digest('hex');
  await store.write({
    run,
    iteration: i,
    epoch: 0,
    batch: i,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind: 'output-grad',
    shape,
    dims: ['sample', 'timestep', 'channel'],
    data,
    loss: 1 / (i + 1),
    time: Date.now(),
    nonFinite: 0,
  });
  unacked.push(`ack ${i} ${hash}`);
  if (durable || i % 3 === 2 || i === count - 1) {
    if (!durable) await store.flush();
    process.stdout.write(`${unacked.join('\n')}\n`);
    unacked = [];
  }
}
await store.endRun(run, 'finished');
await store.close();
process.stdout.write('done\n');
