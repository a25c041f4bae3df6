// Shared memory for payloads in flight: how slabs are filled, released and reused, and a store whose slabs
// are reused while other payloads are still in flight.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReader } from './reader.js';
import { Slabs } from './slabs.js';
import { openStore } from './store.js';
import { snapshot, tempDir } from './test-util/fixtures.js';

describe('slabs', () => {
  it('fills a slab front to back at 16-byte offsets; above a quarter slab a payload gets a buffer of its own', () => {
    const slabs = new Slabs(1024, 2);
    const a = slabs.alloc(100);
    const b = slabs.alloc(60);
    expect([a.bytes.byteOffset, a.bytes.byteLength, b.bytes.byteOffset, b.bytes.byteLength]).toEqual([
      0, 100, 112, 60,
    ]);
    expect(b.slab).toBe(a.slab);
    expect(slabs.alloc(256).slab).toBe(a.slab);
    const big = slabs.alloc(257);
    expect(big.slab).not.toBe(a.slab);
    expect([big.bytes.byteOffset, big.bytes.byteLength, big.slab.big]).toEqual([0, 257, true]);
    expect(big.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('reuses a released large buffer for a payload it fits at most twice over, and keeps at most bigKeptBytes', () => {
    const slabs = new Slabs(1024, 1, 300 * 1024);
    const a = slabs.alloc(100 * 1024);
    expect(a.slab.memory.byteLength).toBe(128 * 1024); // sized in 64 KiB steps
    // Not reused while in flight; then reused by a payload it fits, not by one it is more than twice.
    expect(slabs.alloc(100 * 1024).slab.memory).not.toBe(a.slab.memory);
    slabs.release(a.slab);
    expect(slabs.alloc(60 * 1024).slab.memory).not.toBe(a.slab.memory);
    const again = slabs.alloc(120 * 1024);
    expect(again.slab.memory).toBe(a.slab.memory);
    expect(again.bytes.byteLength).toBe(120 * 1024);
    // Three released buffers of 128 KiB: 300 KiB keeps two of them.
    const three = [0, 1, 2].map(() => slabs.alloc(128 * 1024));
    for (const p of three) slabs.release(p.slab);
    const reused = [0, 1, 2].map(() => slabs.alloc(128 * 1024).slab.memory);
    expect(reused.filter((m) => three.some((p) => p.slab.memory === m))).toHaveLength(2);
  });

  it('starts a new slab while the full one holds payloads, and reuses a slab once all of them are released', () => {
    const slabs = new Slabs(1024, 1);
    const first = [0, 1, 2, 3].map(() => slabs.alloc(256));
    const next = slabs.alloc(256);
    expect(next.slab).not.toBe(first[0]!.slab);
    for (const p of first) slabs.release(p.slab);
    // The emptied slab is kept; the current one fills up, then the kept one comes back from its start.
    for (let i = 0; i < 3; i++) slabs.alloc(256);
    const again = slabs.alloc(256);
    expect(again.slab.memory).toBe(first[0]!.slab.memory);
    expect(again.bytes.byteOffset).toBe(0);
  });

  it('keeps at most `kept` emptied slabs', () => {
    const slabs = new Slabs(1024, 1);
    const full = [0, 1, 2].map(() => [0, 1, 2, 3].map(() => slabs.alloc(256)));
    const current = slabs.alloc(256).slab;
    for (const group of full) for (const p of group) slabs.release(p.slab);
    // Three slabs emptied, one kept: of the next three slabs needed, one is reused and two are new.
    const memories = new Set<SharedArrayBuffer>();
    for (let i = 0; i < 3 + 12; i++) memories.add(slabs.alloc(256).slab.memory);
    const old = new Set(full.map((g) => g[0]!.slab.memory));
    expect([...memories].filter((m) => old.has(m))).toHaveLength(1);
    expect(memories.has(current.memory)).toBe(true);
  });
});

describe('a store reusing its slabs while payloads are in flight', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
  });
  afterEach(() => cleanup());

  it('keeps every tensor exact: a payload is only overwritten after its commit', async () => {
    const file = join(dir, 'slabs.gradscope');
    // 3,000 snapshots of 25.6 KB (77 MB, five slabs) written faster than the disk takes them: tens of MB are in
    // flight at once, and slabs emptied by commits are reused for the later ones.
    const store = openStore(file, { onWarning: () => {} });
    const written = Array.from({ length: 3000 }, (_, i) =>
      snapshot({ iteration: i, shape: [16, 50, 8], seed: 1000 + i }),
    );
    for (const s of written) await store.write(s);
    await store.close();
    const reader = openReader(file);
    try {
      const rows = reader.listSnapshots({ run: 'run-1' });
      expect(rows).toHaveLength(3000);
      let exact = 0;
      for (const row of rows) {
        const t = reader.readTensor(row.id);
        const want = written[row.iteration]!.data;
        if (Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(want.buffer)))
          exact++;
      }
      expect(exact).toBe(3000);
    } finally {
      reader.close();
    }
  });
});
