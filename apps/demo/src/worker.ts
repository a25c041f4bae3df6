// A demo worker thread: its own tfjs (wasm backend) and store connection; trains the runs it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '@gradscope/store';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { DemoRun, DemoSize } from './examples.js';
import { trainRun } from './train.js';

export type ToWorker = { type: 'run'; run: DemoRun; seed: number } | { type: 'finish' } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; run: string; iteration: number; snapshots: number; dropped: number }
  | { type: 'run-done'; run: string }
  | { type: 'closed' }
  | { type: 'error'; message: string };

const { size, db, backend } = workerData as { size: DemoSize; db: string; backend: string };
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
let stopping = false;
const queue: ToWorker[] = [];
let wake: (() => void) | undefined;
port.on('message', (m: ToWorker) => {
  if (m.type === 'stop') stopping = true;
  queue.push(m);
  wake?.();
});
const next = async (): Promise<ToWorker> => {
  while (queue.length === 0) await new Promise<void>((r) => (wake = r));
  return queue.shift()!;
};

try {
  await tf.setBackend(backend);
  await tf.ready();
  const store = await openStore(db);
  try {
    post({ type: 'ready' });
    for (;;) {
      const m = await next();
      if (m.type !== 'run' || stopping) break;
      await trainRun({
        run: m.run,
        size,
        sink: store,
        seed: m.seed,
        onProgress: (p) => post({ type: 'progress', ...p }),
        shouldStop: () => stopping,
      });
      // Committed before the main thread measures the run for its gallery text.
      await store.flush();
      post({ type: 'run-done', run: m.run.name });
    }
  } finally {
    await store.close();
  }
  post({ type: 'closed' });
} catch (err) {
  post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
}
