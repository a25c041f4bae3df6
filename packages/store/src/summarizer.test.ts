// The summarizer thread of large snapshots: how the writer takes its results, and a store whose summarizer
// summarizes (then is gone, and the writer does without it).
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReader } from './reader.js';
import { openStore } from './store.js';
import {
  SLOT,
  SUMMARIZER_MIN_VALUES,
  Summaries,
  type SummaryResult,
  summarizerControl,
} from './summarizer.js';
import { bytesOf, close, reference, snapshot, tempDir } from './test-util/fixtures.js';
import type { TensorSummary } from './types.js';

/** A result as the summarizer posts it: on the port, then counted. */
function post(port: MessageChannel['port1'], control: Int32Array, r: SummaryResult): void {
  port.postMessage(r);
  Atomics.add(control, SLOT.results, 1);
}
const fake = (seq: number, l2: number): SummaryResult => ({
  seq,
  summaries: [{ channelPart: '', l2 } as unknown as TensorSummary],
});
const l2Of = (r: SummaryResult | undefined) => (r && 'summaries' in r ? r.summaries[0]!.l2 : undefined);

describe('Summaries (the writer side)', () => {
  it('hands out results by seq whatever order they came in, and drops those for earlier seqs', async () => {
    const { port1, port2 } = new MessageChannel();
    const control = summarizerControl();
    const s = new Summaries(port2, control, 200);
    post(port1, control, fake(3, 30));
    post(port1, control, fake(5, 50));
    post(port1, control, fake(4, 40));
    expect(l2Of(s.take(4))).toBe(40);
    // 3 was summarized by the writer meanwhile: dropped. A later result for 6 comes while take(6) waits.
    setTimeout(() => {
      post(port1, control, fake(6, 60));
      Atomics.notify(control, SLOT.results);
    }, 0);
    expect(l2Of(s.take(5))).toBe(50);
    await new Promise((r) => setTimeout(r, 20));
    expect(l2Of(s.take(6))).toBe(60);
    expect(l2Of(s.take(3))).toBeUndefined(); // not kept; and the summarizer has said nothing since: patience
    port1.close();
  });

  it('does without a summarizer that is gone, or silent for longer than its patience', () => {
    const gone = summarizerControl();
    const a = new MessageChannel();
    Atomics.store(gone, SLOT.gone, 1);
    const s = new Summaries(a.port2, gone, 60_000);
    expect(s.take(1)).toBeUndefined();
    const silent = new MessageChannel();
    const quiet = new Summaries(silent.port2, summarizerControl(), 30);
    expect(quiet.take(1)).toBeUndefined();
    // Once given up on, it is not waited for again, even when a result arrives.
    post(silent.port1, summarizerControl(), fake(2, 2));
    expect(quiet.take(2)).toBeUndefined();
    a.port1.close();
    silent.port1.close();
  });
});

describe('a store with large snapshots', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(() => cleanup());

  it('has them summarized by the summarizer thread, and by the writer once that thread is gone', async () => {
    const file = join(dir, 'big.gradscope');
    const store = openStore(file);
    const shape = [4, 256, SUMMARIZER_MIN_VALUES / 1024]; // exactly the threshold
    const written = [0, 1, 2, 3, 4].map((iteration) => snapshot({ iteration, shape, nonFinite: iteration }));
    for (const s of written.slice(0, 3)) await store.write(s);
    await store.flush();
    const thread = (
      store as unknown as { summarizer: { worker: { terminate(): Promise<number> }; control: Int32Array } }
    ).summarizer;
    expect(Atomics.load(thread.control, SLOT.results)).toBe(3);
    await thread.worker.terminate();
    await new Promise((r) => setTimeout(r, 50)); // the exit event
    expect(Atomics.load(thread.control, SLOT.gone)).toBe(1);
    for (const s of written.slice(3)) await store.write(s);
    await store.close();
    expect(Atomics.load(thread.control, SLOT.results)).toBe(3);

    const r = openReader(file);
    const index = r.listSnapshots({ run: 'run-1' });
    expect(index.map((i) => i.iteration)).toEqual([0, 1, 2, 3, 4]);
    for (const info of index) {
      const src = written[info.iteration]!;
      expect(bytesOf(r.readTensor(info.id).data).equals(bytesOf(src.data))).toBe(true);
      // Against a float64 loop over the values, not against the kernel.
      const ref = reference(src.data, shape, src.dims);
      const got = r.getSummary(info.id)!;
      expect([got.count, got.nonFinite]).toEqual([ref.count, ref.nonFinite]);
      expect([got.min, got.max, got.maxAbs]).toEqual([ref.min, ref.max, ref.maxAbs].map(Math.fround));
      for (const [a, b] of [
        [got.l2, ref.l2],
        [got.mean, ref.mean],
        [got.std, ref.std],
      ] as const)
        expect(close(a!, b, 1e-9)).toBe(true);
      expect(got.timestepNorms!.every((v, t) => close(v, ref.timestepNorms[t]!))).toBe(true);
      expect(got.channelNorms!.every((v, c) => close(v, ref.channelNorms[c]!))).toBe(true);
    }
    r.close();
  });
});
