// What a run's file and status say after the writer goes away: the file alone is complete after each commit, a
// killed writer's run is 'interrupted', a run written with write() alone is usable, failed commits are counted.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openReader } from './reader.js';
import { openStore } from './store.js';
import { startWriter } from './test-util/child.js';
import { runInfo, sleep, snapshot, tempDir } from './test-util/fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const HOT_JOURNAL_CHILD = fileURLToPath(new URL('./test-util/hot-journal-child.mjs', import.meta.url));

/** The file format bytes of the SQLite header (offsets 18, 19): 1 for a rollback journal, 2 for WAL. */
function fileFormat(db: string): number[] {
  return [...readFileSync(db).subarray(18, 20)];
}

describe('the file alone is complete', () => {
  /** Runs and snapshot counts in a copy of the main file alone (nothing copied beside it). */
  function copyAlone(db: string, name: string): [string, number][] {
    const copyDir = join(dir, name);
    mkdirSync(copyDir);
    const copy = join(copyDir, 'c.gradscope');
    copyFileSync(db, copy);
    const r = openReader(copy);
    try {
      expect(r.integrityCheck()).toBe('ok');
      return r.listRuns().map((x) => [x.id, x.snapshots]);
    } finally {
      r.close();
    }
  }

  it('after every commit, with the store still open and a reader open all along: a copy of the .gradscope file alone holds every committed snapshot; no -wal file is made, and close leaves no -journal', async () => {
    const db = join(dir, 'c.gradscope');
    const store = openStore(db);
    const reader = openReader(db); // open all along, as `serve` keeps it
    await store.startRun(runInfo('a', 'run a'));
    const seen: [string, number][][] = [];
    for (let i = 0; i < 120; i++) {
      await store.write(snapshot({ run: 'a', iteration: i, shape: [4, 50, 32] }));
      if (i % 40 === 39) {
        await store.flush();
        expect(reader.listRuns()[0]!.snapshots).toBe(i + 1);
        // Between commits the journal is empty: nothing in it is needed to read the file.
        expect(statSync(`${db}-journal`).size).toBe(0);
        seen.push(copyAlone(db, `copy-${i}`));
      }
    }
    expect(seen).toEqual([[['a', 40]], [['a', 80]], [['a', 120]]]);
    expect(existsSync(`${db}-wal`)).toBe(false);
    await store.close();
    // The empty journal goes with the writer, although a reader still has the file open.
    expect(existsSync(`${db}-journal`)).toBe(false);
    reader.close();
    expect(fileFormat(db)).toEqual([1, 1]);
    expect(copyAlone(db, 'copy-closed')).toEqual([['a', 120]]);
  });

  it('a file in WAL mode (an earlier gradscope) moves to the rollback journal when a writer opens it alone, and stays in WAL, working, while another connection holds it open', async () => {
    const db = join(dir, 'w.gradscope');
    const first = openStore(db);
    await first.startRun(runInfo('a', 'run a'));
    await first.write(snapshot({ run: 'a', iteration: 0 }));
    await first.close();
    const raw = new Database(db);
    raw.pragma('journal_mode = WAL');
    const mode = () => raw.pragma('journal_mode', { simple: true });
    expect(mode()).toBe('wal');
    expect(fileFormat(db)).toEqual([2, 2]);
    // Held open by this connection: the store cannot leave WAL, and writes in WAL.
    raw.prepare('SELECT count(*) FROM snapshots').get();
    const held = openStore(db);
    await held.write(snapshot({ run: 'a', iteration: 1 }));
    await held.close();
    expect(mode()).toBe('wal');
    expect(raw.prepare('SELECT count(*) FROM snapshots').pluck().get()).toBe(2);
    raw.close();
    // Alone: it moves, and keeps what WAL mode wrote.
    const alone = openStore(db);
    await alone.write(snapshot({ run: 'a', iteration: 2 }));
    await alone.close();
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect(copyAlone(db, 'copy')).toEqual([['a', 3]]);
    expect(fileFormat(db)).toEqual([1, 1]);
  });

  it('a hot journal left by a writer killed mid-commit: a read-only reader rolls it back and reads the last committed state byte-exact', async () => {
    const db = join(dir, 'hot.gradscope');
    const store = openStore(db);
    await store.startRun(runInfo('a', 'run a'));
    for (let i = 0; i < 20; i++) await store.write(snapshot({ run: 'a', iteration: i, shape: [4, 50, 32] }));
    await store.close();
    const before = openReader(db);
    const tensors = before.listSnapshots({ run: 'a' }).map((s) => [...before.readTensor(s.id).data]);
    before.close();
    const child = spawnSync(process.execPath, [HOT_JOURNAL_CHILD, db]);
    expect(child.signal).toBe('SIGKILL');
    // The child died with its changes half in the file: the journal holds the pages as they were.
    expect(statSync(`${db}-journal`).size).toBeGreaterThan(100_000);
    const r = openReader(db);
    expect(r.integrityCheck()).toBe('ok');
    expect(r.listSnapshots({ run: 'a' }).map((s) => [...r.readTensor(s.id).data])).toEqual(tensors);
    // Rolled back: the journal is gone (the recovering connection deletes it).
    expect(existsSync(`${db}-journal`)).toBe(false);
    r.close();
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
    // 0.98 MB each, more than the "disk" has left: accepted at once (write() resolves), each commit then fails.
    // They reach the writer together (the outbox is posted at 2 MB), so no failure is known, and reported by a
    // rejection, before all three are accepted.
    for (let i = 3; i < 6; i++) await store.write(snapshot({ iteration: i, shape: [8, 256, 120] }));
    await expect(store.flush()).rejects.toMatchObject({ code: 'EFULL' });
    expect(store.stats()).toMatchObject({ accepted: 6, committed: 3, failed: 3, queuedCount: 0 });
    expect(errors).toEqual(['EFULL', 'EFULL', 'EFULL']);
    await store.close();
  });

  it('without onError, a full disk is said once however many accepted snapshots it fails', async () => {
    const db = join(dir, 'once.gradscope');
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const store = openStore(db, { maxPageCount: 40 });
      for (let i = 0; i < 3; i++) await store.write(snapshot({ iteration: i }));
      await store.flush();
      // Three different snapshots, each failing alone (they reach the writer together, see above).
      for (let i = 3; i < 6; i++) await store.write(snapshot({ iteration: i, shape: [8, 256, 120] }));
      await expect(store.flush()).rejects.toMatchObject({ code: 'EFULL' });
      expect(store.stats()).toMatchObject({ committed: 3, failed: 3 });
      await store.close();
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^gradscope store: .*once\.gradscope: writing snapshot lstm_1 output-grad iteration 3 failed: database or disk is full .*\(printed once; later EFULL failures are counted in stats\(\)\.failed\)\n$/,
    );
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
    // 40 × 1 MB accepted at once (write() resolves on enqueue), then the writer thread is killed.
    for (let i = 0; i < 40; i++)
      await store.write(snapshot({ run: 'w', iteration: i, shape: [4, 256, 256] }));
    const before = store.stats();
    expect(before.accepted).toBe(40);
    const writer = (store as unknown as { writer: { terminate(): Promise<number> } }).writer;
    await writer.terminate();
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
