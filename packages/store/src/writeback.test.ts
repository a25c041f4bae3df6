// Early writeback: finding the writer connection's descriptor, the writeback thread's loop and its
// handshake with the writer thread, and a store whose commit groups spill while they are built.
import { closeSync, fstatSync, openSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReader } from './reader.js';
import { WRITER_CACHE_BYTES } from './sqlite.js';
import { openStore } from './store.js';
import { snapshot, tempDir } from './test-util/fixtures.js';
import {
  descriptorsOf,
  openedDescriptor,
  runWriteback,
  SLOT,
  STATE,
  Writeback,
  writebackControl,
} from './writeback.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

describe('the writer connection’s descriptor', () => {
  it('is the one descriptor the open added on the file, not another connection’s', () => {
    const file = join(dir, 'a.db');
    writeFileSync(file, '');
    const other = new Database(file);
    const { value: db, fd } = openedDescriptor(file, () => new Database(file));
    try {
      expect(fd).not.toBeNull();
      const s = fstatSync(fd!);
      const f = statSync(file);
      expect([s.dev, s.ino]).toEqual([f.dev, f.ino]);
      // The earlier connection's descriptor was there before: the two sets differ by exactly this one.
      expect(descriptorsOf(file)!.size).toBe(2);
      expect(descriptorsOf(file)!.has(fd!)).toBe(true);
    } finally {
      db.close();
      other.close();
    }
    expect(descriptorsOf(file)!.size).toBe(0);
  });

  it('is null when the open added two descriptors on the file (ambiguous)', () => {
    const file = join(dir, 'b.db');
    writeFileSync(file, '');
    const fds: number[] = [];
    expect(openedDescriptor(file, () => fds.push(openSync(file, 'r'), openSync(file, 'r'))).fd).toBeNull();
    for (const fd of fds) closeSync(fd);
  });
});

describe('the writeback loop', () => {
  it('syncs the descriptor while a commit is in progress and leaves at STOP', () => {
    const control = writebackControl();
    Atomics.store(control, SLOT.state, STATE.busy);
    const calls: number[] = [];
    runWriteback(42, control, 0, (fd) => {
      calls.push(fd);
      if (calls.length === 3) Atomics.store(control, SLOT.state, STATE.stop);
    });
    expect(calls).toEqual([42, 42, 42]);
    expect([control[SLOT.syncing], control[SLOT.error], control[SLOT.stopped]]).toEqual([0, 0, 1]);
  });

  it('records a failed sync, so that the commit in progress is not acknowledged', () => {
    const control = writebackControl();
    new Writeback(control).begin();
    runWriteback(7, control, 0, () => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    expect(control[SLOT.error]).toBe(1);
    expect(control[SLOT.stopped]).toBe(1);
    expect(new Writeback(control).settle()).toBe(true);
  });

  it('hands over between threads: begin, settle (no error), stop', async () => {
    const file = join(dir, 'c.bin');
    writeFileSync(file, Buffer.alloc(1 << 20, 1));
    const fd = openSync(file, 'r+');
    const control = writebackControl();
    const worker = new Worker(new URL('../dist/writeback.worker.js', import.meta.url), {
      workerData: { fd, control },
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const writeback = new Writeback(control);
    try {
      expect(writeback.started(5000)).toBe(true);
      writeback.begin();
      await new Promise((r) => setTimeout(r, 30));
      expect(writeback.settle()).toBe(false);
      expect(control[SLOT.syncing]).toBe(0);
      writeback.stop();
      expect(control[SLOT.stopped]).toBe(1);
      expect(await exited).toBe(0);
    } finally {
      closeSync(fd);
    }
  });
});

describe('a store whose commit groups are larger than the writer’s cache', () => {
  it('spills while it builds them and keeps every tensor exact', async () => {
    const file = join(dir, 'spill.gradscope');
    const store = openStore(file, { onWarning: () => {} });
    // 24 snapshots of 1 MiB, written without waiting: groups of several MiB, more than the writer’s cache.
    const shape = [16, 128, 128];
    const written = Array.from({ length: 24 }, (_, i) => snapshot({ iteration: i, shape, seed: 100 + i }));
    expect(24 * 2 ** 20).toBeGreaterThan(2 * WRITER_CACHE_BYTES);
    for (const s of written) await store.write(s);
    await store.close();
    const reader = openReader(file);
    try {
      expect(reader.integrityCheck()).toBe('ok');
      const ids = reader.listSnapshots({ run: written[0]!.run });
      expect(ids).toHaveLength(24);
      for (const row of ids) {
        const t = reader.readTensor(row.id);
        const got = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        expect(got.equals(Buffer.from(written[row.iteration]!.data.buffer))).toBe(true);
      }
    } finally {
      reader.close();
    }
  });
});

describe('a disk error seen by the writeback thread', () => {
  it('fails the commit in progress and stops the store; every write acknowledged before is in the file', async () => {
    const file = join(dir, 'eio.gradscope');
    const shape = [16, 128, 128];
    const before = openStore(file, { durable: true });
    const earlier = Array.from({ length: 5 }, (_, i) => snapshot({ iteration: i, shape, seed: 200 + i }));
    for (const s of earlier) await before.write(s);
    await before.close();
    // Every sync of this store's writeback thread fails as a disk error would (writeback.worker.ts).
    process.env.GRADSCOPE_TEST_WRITEBACK_EIO_AFTER = '0';
    let store: ReturnType<typeof openStore>;
    try {
      store = openStore(file, { durable: true, onError: () => {} });
    } finally {
      delete process.env.GRADSCOPE_TEST_WRITEBACK_EIO_AFTER;
    }
    const acknowledged = [...earlier];
    let failure: unknown;
    for (let i = 0; i < 100 && failure === undefined; i++) {
      const s = snapshot({ iteration: 5 + i, shape, seed: 300 + i });
      try {
        await store.write(s);
        acknowledged.push(s);
      } catch (err) {
        failure = err;
      }
    }
    expect(failure).toMatchObject({ code: 'EIO' });
    expect((failure as Error).message).toContain(file);
    await expect(store.write(snapshot({ iteration: 999 }))).rejects.toMatchObject({ code: 'EIO' });
    await expect(store.close()).rejects.toMatchObject({ code: 'EIO' });
    const reader = openReader(file);
    try {
      expect(reader.integrityCheck()).toBe('ok');
      const rows = new Map(reader.listSnapshots({ run: 'run-1' }).map((r) => [r.iteration, r.id]));
      for (const s of acknowledged) {
        const t = reader.readTensor(rows.get(s.iteration)!);
        expect(
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(s.data.buffer)),
        ).toBe(true);
      }
    } finally {
      reader.close();
    }
  });
});
