// Crash safety and concurrency with real processes: SIGKILL at random moments, two writers at once, and a
// reader reading all along.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReader } from './reader.js';
import { startWriter, verifyAcks } from './test-util/child.js';
import { sleep, tempDir } from './test-util/fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** Small deterministic PRNG so a failing kill schedule can be replayed from the printed seed. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('crash safety', () => {
  it('SIGKILL at random moments, 15 times: the file opens, passes integrity_check and holds every acknowledged snapshot byte-exact', async () => {
    const db = join(dir, 'crash.gradscope');
    const seed = Date.now() % 100000;
    const rand = prng(seed);
    const acked = new Map<string, Map<number, string>>();
    let totalAcked = 0;
    for (let k = 0; k < 15; k++) {
      const run = `run-${k}`;
      const child = startWriter(db, run, 100_000, k % 2 === 0 ? 'flush' : 'durable');
      if (k % 5 === 4) {
        // Kill while the store may still be opening or creating the schema.
        await sleep(50 + rand() * 300);
      } else {
        // After the first acknowledgement, so that the kill lands in the middle of real work however slow
        // the machine is; then anywhere in the next few hundred ms (writes, commits).
        await child.firstAck;
        await sleep(rand() * 400);
      }
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect([signal, child.stderr()], `seed ${seed} kill ${k}`).toEqual(['SIGKILL', '']);
      acked.set(run, child.acks);

      const reader = openReader(db);
      expect(reader.integrityCheck(), `seed ${seed} kill ${k}`).toBe('ok');
      for (const [r, acks] of acked) verifyAcks(reader, r, acks);
      reader.close();
      totalAcked += child.acks.size;
    }
    // The kills landed after real work: most children acknowledged snapshots before dying.
    expect(totalAcked, `seed ${seed}`).toBeGreaterThan(15);
  });
});

describe('concurrency', () => {
  it('two writer processes write different runs to one new file while a reader reads: no SQLITE_BUSY escapes', async () => {
    const db = join(dir, 'shared.gradscope');
    const a = startWriter(db, 'run-a', 45, 'flush');
    const b = startWriter(db, 'run-b', 45, 'durable');
    await Promise.all([a.ready, b.ready]);
    const reader = openReader(db);
    let reads = 0;
    let done = false;
    const both = Promise.all([a.exited, b.exited]).then((r) => {
      done = true;
      return r;
    });
    while (!done) {
      for (const run of reader.listRuns()) {
        const snaps = reader.listSnapshots({ run: run.id });
        if (snaps.length === 0) continue;
        const flow = reader.flowMatrix({ run: run.id, layer: 'lstm_1', kind: 'output-grad' });
        expect(flow.iterations.length).toBeGreaterThanOrEqual(snaps.length);
        expect(flow.timesteps).toBe(100);
        const last = snaps[snaps.length - 1]!;
        expect(reader.readTensor(last.id).data.length).toBe(last.shape[0]! * 100 * 64);
        reads++;
      }
      await sleep(5);
    }
    const exits = await both;
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    expect(a.stderr() + b.stderr()).toBe('');
    expect(reads).toBeGreaterThan(5);
    expect(a.acks.size).toBe(45);
    expect(b.acks.size).toBe(45);
    expect(verifyAcks(reader, 'run-a', a.acks)).toBe(45);
    expect(verifyAcks(reader, 'run-b', b.acks)).toBe(45);
    expect(
      reader
        .listRuns()
        .map((r) => [r.id, r.status, r.snapshots])
        .sort(),
    ).toEqual([
      ['run-a', 'finished', 45],
      ['run-b', 'finished', 45],
    ]);
    expect(reader.integrityCheck()).toBe('ok');
    reader.close();
  });
});
