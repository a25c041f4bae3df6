// What a run's file and status say after the writer goes away: the file alone is complete after close, a
// killed writer's run is 'interrupted', a run written with write() alone is usable, failed commits are counted.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openReader } from './reader.js';
import { openStore } from './store.js';
import { startWriter } from './test-util/child.js';
import { runInfo, snapshot, tempDir } from './test-util/fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('closing', () => {
  it('checkpoints on close: a copy of the .gradscope file alone lists every run and snapshot, even with a reader open all along', async () => {
    const db = join(dir, 'c.gradscope');
    const store = openStore(db);
    const reader = openReader(db); // open all along, as `serve` keeps it
    for (const id of ['a', 'b', 'c']) {
      await store.startRun(runInfo(id, `run ${id}`));
      for (let i = 0; i < 30; i++) await store.write(snapshot({ run: id, iteration: i, shape: [4, 50, 32] }));
      await store.endRun(id, 'finished');
    }
    await store.flush();
    expect(reader.listRuns()).toHaveLength(3);
    // Before close the data is in the WAL, not yet in the file.
    expect(statSync(`${db}-wal`).size).toBeGreaterThan(1_000_000);
    await store.close();
    expect(existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0).toBe(0);

    const copyDir = join(dir, 'copy');
    mkdirSync(copyDir);
    const copy = join(copyDir, 'c.gradscope');
    copyFileSync(db, copy);
    reader.close();
    const r = openReader(copy);
    expect(
      r
        .listRuns()
        .map((x) => [x.id, x.status, x.snapshots])
        .sort(),
    ).toEqual([
      ['a', 'finished', 30],
      ['b', 'finished', 30],
      ['c', 'finished', 30],
    ]);
    expect(r.flowMatrix({ run: 'b', layer: 'lstm_1', kind: 'output-grad' }).count).toBe(30);
    expect(r.integrityCheck()).toBe('ok');
    r.close();
  });
});

describe('checkpointing while open', () => {
  /** Runs and snapshot counts in a copy of the main file alone (no -wal beside it). */
  function copyAlone(db: string, name: string): [string, number][] {
    const copyDir = join(dir, name);
    mkdirSync(copyDir);
    const copy = join(copyDir, 'c.gradscope');
    copyFileSync(db, copy);
    const r = openReader(copy);
    try {
      return r.listRuns().map((x) => [x.id, x.snapshots]);
    } finally {
      r.close();
    }
  }

  it('folds the WAL into the file once writes pause: a copy of the file alone, taken with the store still open, holds every committed snapshot', async () => {
    const db = join(dir, 'c.gradscope');
    const store = openStore(db);
    await store.startRun(runInfo('a', 'run a'));
    for (let i = 0; i < 40; i++) await store.write(snapshot({ run: 'a', iteration: i, shape: [4, 50, 32] }));
    await store.flush();
    // The checkpoint thread runs ~200 ms after the last commit; poll for it rather than assume a time.
    let seen: [string, number][] = [];
    for (let attempt = 0; attempt < 100 && seen[0]?.[1] !== 40; attempt++) {
      await sleep(100);
      seen = copyAlone(db, `copy-${attempt}`);
    }
    expect(seen).toEqual([['a', 40]]);
    await store.close();
  });

  it('checkpoints during a long burst too (every walAutocheckpoint pages), without waiting for a pause', async () => {
    const db = join(dir, 'c.gradscope');
    // 16 pages = 512 KiB: 200 snapshots of 25.6 KB ask for ~10 checkpoints.
    const store = openStore(db, { walAutocheckpoint: 16 });
    await store.startRun(runInfo('a', 'run a'));
    const sizes: number[] = [];
    for (let i = 0; i < 200; i++) {
      await store.write(snapshot({ run: 'a', iteration: i, shape: [4, 50, 32] }));
      if (i % 20 === 19) {
        await store.flush();
        sizes.push(statSync(db).size);
      }
    }
    await store.close();
    // The main file grew while the writes went on (a checkpoint copies WAL pages into it), not only at close.
    expect(sizes.at(-1)!).toBeGreaterThan(sizes[0]! + 2_000_000);
    expect(copyAlone(db, 'copy')).toEqual([['a', 200]]);
  });
});

describe('run status', () => {
  it("a run whose writer process was SIGKILLed is 'interrupted'; while it lives it is 'running'", async () => {
    const db = join(dir, 'k.gradscope');
    const child = startWriter(db, 'victim', 100_000, 'flush');
    await child.ready;
    while (child.acks.size < 3) await sleep(10);
    const r = openReader(db);
    expect(r.getRun('victim')!.status).toBe('running');
    expect(r.listRuns()[0]!.status).toBe('running');
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(r.getRun('victim')!.status).toBe('interrupted');
    expect(r.listRuns()[0]!.status).toBe('interrupted');
    expect(r.getRun('victim')!.endedAt).toBeNull();
    r.close();
  });

  it("a writer on another host is alive while its heartbeat is fresh, 'interrupted' once it is stale", async () => {
    const db = join(dir, 'h.gradscope');
    const store = openStore(db);
    await store.startRun(runInfo('remote'));
    await store.close();
    const raw = new Database(db);
    const set = raw.prepare("UPDATE runs SET writer = 'elsewhere.example 4242 12345', heartbeat_at = ?");
    const r = openReader(db, { staleAfterMs: 30_000 });
    set.run(Date.now() - 5_000);
    expect(r.getRun('remote')!.status).toBe('running');
    set.run(Date.now() - 60_000);
    expect(r.getRun('remote')!.status).toBe('interrupted');
    // Files from before heartbeats (no writer recorded): judged by the last sign of life.
    raw
      .prepare('UPDATE runs SET writer = NULL, heartbeat_at = NULL, started_at = ?')
      .run(Date.now() - 3_600_000);
    expect(r.getRun('remote')!.status).toBe('interrupted');
    raw.close();
    r.close();
  });

  it('a run written with write() alone gets a model summary with no layers, derived capture options, and ends with its store', async () => {
    const db = join(dir, 'w.gradscope');
    const store = openStore(db);
    await store.write(snapshot({ run: 'loose', iteration: 0, layer: 'lstm_1' }));
    await store.write(snapshot({ run: 'loose', iteration: 0, layer: 'gru_1', kind: 'input-grad' }));
    await store.write(snapshot({ run: 'loose', iteration: 5, layer: 'lstm_1' }));
    await store.flush();
    const r = openReader(db);
    const live = r.getRun('loose')!;
    expect(live.status).toBe('running');
    expect(live.model).toEqual({
      name: '',
      className: '',
      layers: [],
      inputShape: [],
      outputShape: [],
      losses: [],
    });
    expect(live.options).toEqual({
      mode: 'batch',
      capture: ['output-grad', 'input-grad'],
      layers: ['lstm_1', 'gru_1'],
    });
    await store.close();
    const done = r.getRun('loose')!;
    expect(done.status).toBe('finished');
    expect(done.endedAt).toBe(snapshot({ iteration: 5 }).time);
    // Written again later: running again.
    const again = openStore(db);
    await again.write(snapshot({ run: 'loose', iteration: 10 }));
    await again.flush();
    expect(r.getRun('loose')!).toMatchObject({ status: 'running', endedAt: null, snapshots: 4 });
    await again.close();
    r.close();
  });
});

describe('commit failures', () => {
  it('stats() counts every accepted snapshot that failed to commit, separately from the committed ones', async () => {
    const db = join(dir, 'f.gradscope');
    const errors: string[] = [];
    const store = openStore(db, { maxPageCount: 40, onError: (e) => errors.push(e.code) });
    for (let i = 0; i < 3; i++) await store.write(snapshot({ iteration: i }));
    await store.flush();
    // 2 MB each: accepted at once (write() resolves), each commit then fails on the "full disk".
    for (let i = 3; i < 6; i++) await store.write(snapshot({ iteration: i, shape: [8, 256, 256] }));
    await expect(store.flush()).rejects.toMatchObject({ code: 'EFULL' });
    expect(store.stats()).toMatchObject({ accepted: 6, committed: 3, failed: 3, queuedCount: 0 });
    expect(errors).toEqual(['EFULL', 'EFULL', 'EFULL']);
    await store.close();
  });

  it('durable: a failed commit rejects its own write() and is not counted again in stats().failed', async () => {
    const db = join(dir, 'd.gradscope');
    const store = openStore(db, { durable: true, maxPageCount: 40, onError: () => {} });
    for (let i = 0; i < 3; i++) await store.write(snapshot({ iteration: i }));
    let rejected = 0;
    for (let i = 3; i < 6; i++) {
      await store.write(snapshot({ iteration: i, shape: [8, 256, 256] })).catch((e: { code: string }) => {
        expect(e.code).toBe('EFULL');
        rejected++;
      });
    }
    expect(rejected).toBe(3);
    expect(store.stats()).toMatchObject({ accepted: 6, committed: 3, failed: 0, queuedCount: 0 });
    await store.close();
  });

  it('counts the accepted snapshots lost when the writer thread dies as failed', async () => {
    const db = join(dir, 'w.gradscope');
    const errors: string[] = [];
    const store = openStore(db, { onError: (e) => errors.push(e.code) });
    await store.startRun(runInfo('w'));
    // 40 × 1 MB accepted at once (write() resolves on enqueue), then the encoder thread is killed.
    for (let i = 0; i < 40; i++)
      await store.write(snapshot({ run: 'w', iteration: i, shape: [4, 256, 256] }));
    const before = store.stats();
    expect(before.accepted).toBe(40);
    const encoder = (store as unknown as { encoder: { terminate(): Promise<number> } }).encoder;
    await encoder.terminate();
    await sleep(50);
    await expect(store.flush()).rejects.toMatchObject({ code: 'EWORKER' });
    const after = store.stats();
    expect(after.committed).toBeLessThan(40);
    expect(after.failed).toBe(40 - after.committed);
    expect(after.failed).toBeGreaterThan(0);
    expect(after.queuedCount).toBe(0);
    expect(errors).toContain('EWORKER');
    await store.close().catch(() => {});
  });
});
