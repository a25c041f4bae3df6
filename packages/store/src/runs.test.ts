// Scalars, and managing runs: rename, delete, vacuum and compact on real files.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import { checkFile } from './maintenance.js';
import { openReader, openRunReader } from './reader.js';
import { openStore } from './store.js';
import { BACKENDS } from './test-util/backends.js';
import { bytesOf, runInfo, snapshot, tempDir, zeroPages } from './test-util/fixtures.js';
import type { ScalarPoint } from './types.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** A noisy decreasing loss with spikes at known places. */
function lossCurve(n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    if (i === 123) return 50; // a spike
    if (i === 777) return -3; // a dip
    return 1 / (1 + i / 100) + 0.01 * Math.sin(i * 1.7);
  });
}

/** Rows of `table` belonging to run `key`, by a direct query. */
function countRows(db: string, runKey: number): Record<string, number> {
  const raw = new Database(db, { readonly: true });
  const one = (sql: string) => raw.prepare(sql).pluck().get(runKey) as number;
  const out = {
    runs: one('SELECT count(*) FROM runs WHERE key = ?'),
    snapshots: one('SELECT count(*) FROM snapshots WHERE run_key = ?'),
    payloads: one(
      'SELECT count(*) FROM payloads WHERE snapshot_id IN (SELECT id FROM snapshots WHERE run_key = ?)',
    ),
    summaries: one(
      'SELECT count(*) FROM summaries m WHERE NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.id = m.snapshot_id) OR m.snapshot_id IN (SELECT id FROM snapshots WHERE run_key = ?)',
    ),
    series: one('SELECT count(*) FROM series WHERE run_key = ?'),
    chunks: one(
      'SELECT count(*) FROM series_chunks WHERE series_key IN (SELECT key FROM series WHERE run_key = ?)',
    ),
    scalars: one('SELECT count(*) FROM scalars WHERE run_key = ?'),
  };
  raw.close();
  return out;
}

function runKeyOf(db: string, id: string): number {
  const raw = new Database(db, { readonly: true });
  const key = raw.prepare('SELECT key FROM runs WHERE id = ?').pluck().get(id) as number;
  raw.close();
  return key;
}

describe.each(BACKENDS)('scalars ($name provider)', (backend) => {
  afterAll(() => backend.cleanup());

  it('are written through the writer thread and read back per name in iteration order, NaN kept', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    await store.startRun(runInfo());
    const loss = lossCurve(1000);
    const points: ScalarPoint[] = [];
    loss.forEach((value, i) => {
      points.push({ iteration: i, name: 'loss', value, time: 1000 + i });
      if (i % 3 === 0) points.push({ iteration: i, name: 'acc', value: i / 1000, time: 1000 + i });
    });
    points.push({ iteration: 5, name: 'probe/loss', value: Number.NaN, time: 5 });
    // Batched as the callback sends them, out of order between batches.
    await store.writeScalars('run-1', points.slice(500));
    await store.writeScalars('run-1', points.slice(0, 500));
    await store.writeScalars('never-started', [{ iteration: 1, name: 'loss', value: 2, time: 3 }]);
    await expect(
      store.writeScalars('run-1', [{ iteration: -1, name: 'loss', value: 1, time: 0 }]),
    ).rejects.toThrow('scalar point 0.iteration must be an integer >= 0, got -1');
    await store.close();

    const r = openRunReader(db);
    const series = await r.scalars('run-1');
    expect(series.map((s) => [s.name, s.count])).toEqual([
      ['acc', 334],
      ['loss', 1000],
      ['probe/loss', 1],
    ]);
    const l = series[1]!;
    expect(Array.from(l.iterations)).toEqual(loss.map((_, i) => i));
    expect(Array.from(l.values)).toEqual(loss);
    expect(Array.from(l.times)).toEqual(loss.map((_, i) => 1000 + i));
    expect(Array.from(series[0]!.times)).toEqual(Array.from({ length: 334 }, (_, k) => 1000 + 3 * k));
    expect(Array.from(series[2]!.times)).toEqual([5]);
    expect(Number.isNaN(series[2]!.values[0]!)).toBe(true);
    expect((await r.scalars('never-started'))[0]!.values[0]).toBe(2);
    expect((await r.scalars('run-1', { names: ['acc'] })).map((s) => s.name)).toEqual(['acc']);
    await r.close();
  });

  it('a caller that never returns to the event loop (as model.fit) sees each commit acknowledged at its next call', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    await store.startRun(runInfo());
    const sleep = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 5000;
    let settled = 0;
    let mostQueued = 0;
    // 30 steps, each a snapshot and a scalar batch; between them only synchronous work and microtasks, as
    // in a fit whose callbacks are tf.Callback subclasses (no macrotask runs until it ends).
    for (let i = 1; i <= 30; i++) {
      void store.write(snapshot({ iteration: i }));
      void store.writeScalars('run-1', [{ iteration: i, name: 'loss', value: 1 / i, time: i }]).then(() => {
        settled++;
      });
      mostQueued = Math.max(mostQueued, store.stats().queuedCount);
      // The step's own work, while the writer thread commits.
      while (store.stats().queuedCount > 0 && Date.now() < deadline) Atomics.wait(sleep, 0, 0, 2);
      await Promise.resolve();
    }
    expect({ settled, mostQueued, queued: store.stats().queuedCount }).toEqual({
      settled: 30,
      mostQueued: 1,
      queued: 0,
    });
    await store.close();
    const r = openRunReader(db);
    const [loss] = await r.scalars('run-1');
    expect(Array.from(loss!.iterations)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect((await r.listRuns())[0]!.snapshots).toBe(30);
    await r.close();
  });

  it('points of one iteration come back in the order they were written, whatever their values', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    // The index orders one iteration's points by value (NaN, stored as NULL, first); the reader must not.
    const at3 = [5, Number.NaN, -1, 7, 2];
    await store.writeScalars('run-1', [
      { iteration: 1, name: 'loss', value: 9, time: 1 },
      ...at3.map((value, k) => ({ iteration: 3, name: 'loss', value, time: 10 + k })),
      { iteration: 2, name: 'loss', value: 4, time: 2 },
    ]);
    await store.writeScalars('run-1', [{ iteration: 3, name: 'loss', value: -5, time: 20 }]);
    await store.close();
    const r = openRunReader(db);
    const [s] = await r.scalars('run-1');
    expect(Array.from(s!.iterations)).toEqual([1, 2, 3, 3, 3, 3, 3, 3]);
    expect(Array.from(s!.times)).toEqual([1, 2, 10, 11, 12, 13, 14, 20]);
    expect(Array.from(s!.values)).toEqual([9, 4, ...at3, -5]);
    await r.close();
  });

  it('downsampling keeps the first, last, smallest and largest point of every bucket', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    const loss = lossCurve(1000);
    await store.writeScalars(
      'run-1',
      loss.map((value, i) => ({ iteration: i * 2, name: 'loss', value, time: i })),
    );
    await store.close();
    const r = openRunReader(db);
    const [s] = await r.scalars('run-1', { maxPoints: 100 });
    expect(s!.count).toBe(1000);
    expect(s!.values.length).toBeLessThanOrEqual(100);
    // Independently: 25 buckets of 40 consecutive points; each keeps its first, last, argmin, argmax.
    const want: number[] = [];
    for (let b = 0; b < 25; b++) {
      const idx = Array.from({ length: 40 }, (_, k) => b * 40 + k);
      const lo = idx.reduce((a, i) => (loss[i]! < loss[a]! ? i : a));
      const hi = idx.reduce((a, i) => (loss[i]! > loss[a]! ? i : a));
      want.push(...new Set([idx[0]!, lo, hi, idx[39]!].sort((x, y) => x - y)));
    }
    expect(Array.from(s!.iterations)).toEqual(want.map((i) => i * 2));
    expect(Array.from(s!.values)).toEqual(want.map((i) => loss[i]!));
    // Times are downsampled alongside: point i was written at time i.
    expect(Array.from(s!.times)).toEqual(want);
    // The spike, the dip, the ends survive.
    expect(Array.from(s!.values)).toContain(50);
    expect(Array.from(s!.values)).toContain(-3);
    expect([s!.iterations[0], s!.iterations[s!.iterations.length - 1]]).toEqual([0, 1998]);
    await expect(Promise.resolve().then(() => r.scalars('run-1', { maxPoints: 3 }))).rejects.toThrow(
      'maxPoints must be an integer >= 4, got 3',
    );
    await r.close();
  });
});

describe('run management', () => {
  async function threeRuns(db: string) {
    const store = openStore(db);
    const written = new Map<string, ReturnType<typeof snapshot>[]>();
    for (const id of ['a', 'b', 'c']) {
      await store.startRun(runInfo(id, `run ${id}`));
      const list = [];
      for (let i = 0; i < 40; i++) {
        const s = snapshot({
          run: id,
          iteration: i,
          shape: [4, 30, 16],
          channelParts: ['forward', 'backward'],
          seed: i + id.charCodeAt(0) * 100,
        });
        list.push(s);
        await store.write(s);
      }
      written.set(id, list);
      await store.writeScalars(id, [{ iteration: 1, name: 'loss', value: 1, time: 1 }]);
    }
    return { store, written };
  }

  it('updateRunMeta sets meta keys through the writer and keeps status, end time and model', async () => {
    const db = join(dir, 'meta.gradscope');
    const store = openStore(db);
    await store.startRun({ ...runInfo('run-1', 'exp'), meta: { task: 'copy', gallery: [] } });
    await store.write(snapshot({ iteration: 3 }));
    await store.endRun('run-1', 'finished');
    const r = openReader(db);
    const before = r.getRun('run-1')!;
    expect(before.status).toBe('finished');
    await store.updateRunMeta('exp', { gallery: [{ title: 'vanishing' }], findings: { horizon: 2 } });
    const after = r.getRun('run-1')!;
    expect(after.meta).toEqual({ task: 'copy', gallery: [{ title: 'vanishing' }], findings: { horizon: 2 } });
    expect([after.status, after.endedAt, after.startedAt]).toEqual([
      before.status,
      before.endedAt,
      before.startedAt,
    ]);
    expect(after.model).toEqual(before.model);
    await expect(store.updateRunMeta('nope', { a: 1 })).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(store.updateRunMeta('run-1', [1] as unknown as Record<string, unknown>)).rejects.toThrow(
      'meta must be a JSON object, got an array',
    );
    await store.close();
    r.close();
  });

  it('startRun stores group and params; tagRun sets the group and merges params (null removes a key), changing nothing else', async () => {
    const db = join(dir, 'tag.gradscope');
    const store = openStore(db);
    const params = { cell: 'LSTM', units: 4, lr: 0.005, seeds: [1, 2], opt: { beta1: 0.9 }, note: null };
    await store.startRun({ ...runInfo('run-1', 'exp'), group: 'lstm-lr0.005', params });
    await store.startRun(runInfo('run-2', 'plain'));
    await store.endRun('run-1', 'finished');
    const r = openReader(db);
    const before = r.getRun('run-1')!;
    expect([before.group, before.params]).toEqual(['lstm-lr0.005', params]);
    expect(r.listRuns().map((run) => [run.id, run.group, run.params])).toEqual([
      ['run-2', null, {}],
      ['run-1', 'lstm-lr0.005', params],
    ]);
    await store.tagRun('exp', { params: { lr: 0.01, seed: 3, note: null } });
    let after = r.getRun('run-1')!;
    expect(after.group).toBe('lstm-lr0.005');
    expect(after.params).toEqual({
      cell: 'LSTM',
      units: 4,
      lr: 0.01,
      seeds: [1, 2],
      opt: { beta1: 0.9 },
      seed: 3,
    });
    expect([after.status, after.endedAt, after.name, after.meta]).toEqual([
      before.status,
      before.endedAt,
      before.name,
      before.meta,
    ]);
    await store.tagRun('run-1', { group: 'lstm' });
    expect(r.getRun('run-1')!.group).toBe('lstm');
    await store.tagRun('run-1', { group: null });
    after = r.getRun('run-1')!;
    expect(after.group).toBeNull();
    expect(after.params?.seed).toBe(3);
    // A later fit of the same run (startRun again) keeps what was tagged in between, its own values over it.
    await store.tagRun('run-1', { group: 'tagged', params: { user: 'kept' } });
    await store.startRun({ ...runInfo('run-1', 'exp'), params: { lr: 0.02 } });
    after = r.getRun('run-1')!;
    expect(after.group).toBe('tagged');
    expect(after.params).toMatchObject({ lr: 0.02, user: 'kept', cell: 'LSTM' });
    await expect(store.tagRun('nope', { group: 'g' })).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(store.tagRun('run-1', { group: '' })).rejects.toThrow(
      'group must be a non-empty string (e.g. the seed-free name of a configuration), got ""',
    );
    await expect(store.tagRun('run-1', { params: { lr: Number.NaN } })).rejects.toThrow(
      'params.lr must be a finite number (JSON has no NaN), got NaN',
    );
    await expect(store.tagRun('run-1', {})).rejects.toThrow(
      'tagRun needs { group } or { params } (or both), got neither',
    );
    await expect(store.tagRun('run-1', { grup: 'g' } as never)).rejects.toThrow(
      "unknown option 'grup' for tagRun; did you mean 'group'?",
    );
    await expect(store.startRun({ ...runInfo('run-3'), params: [1] as never })).rejects.toThrow(
      'run.params must be a JSON object such as { "lr": 0.005, "seed": 1 }, got an array',
    );
    await expect(store.startRun({ ...runInfo('run-3'), group: 7 as never })).rejects.toThrow(
      /^run\.group must be a non-empty string .*got 7$/,
    );
    expect(r.getRun('run-3')).toBeUndefined();
    await store.close();
    r.close();
  });

  it('renameRun renames by id or name; deleteRun removes every row of one run in one transaction; vacuum shrinks the file', async () => {
    const db = join(dir, 'm.gradscope');
    const { store, written } = await threeRuns(db);
    await store.renameRun('a', 'first');
    await store.renameRun('run b', 'second');
    await expect(store.renameRun('nope', 'x')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(store.renameRun('a', '')).rejects.toThrow('name must be a non-empty string, got ""');
    const bKey = runKeyOf(db, 'b');
    expect(countRows(db, bKey)).toMatchObject({
      runs: 1,
      snapshots: 40,
      payloads: 40,
      series: 1,
      scalars: 1,
    });
    await store.vacuum(); // folds the WAL into the file: the size to compare with
    const sizeBefore = statSync(db).size;
    await store.deleteRun('second');
    await expect(store.deleteRun('second')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(countRows(db, bKey)).toEqual({
      runs: 0,
      snapshots: 0,
      payloads: 0,
      summaries: 0,
      series: 0,
      chunks: 0,
      scalars: 0,
    });
    // A run written and deleted in one commit group leaves nothing behind either.
    const pending = store.write(snapshot({ run: 'd', iteration: 0 }));
    await store.deleteRun('d');
    await pending;
    await store.vacuum();
    const sizeAfter = statSync(db).size;
    const raw = new Database(db, { readonly: true });
    const orphans = raw
      .prepare(`SELECT
        (SELECT count(*) FROM series_chunks WHERE series_key NOT IN (SELECT key FROM series)) +
        (SELECT count(*) FROM summaries WHERE snapshot_id NOT IN (SELECT id FROM snapshots)) +
        (SELECT count(*) FROM payloads WHERE snapshot_id NOT IN (SELECT id FROM snapshots)) +
        (SELECT count(*) FROM snapshots WHERE run_key NOT IN (SELECT key FROM runs))`)
      .pluck()
      .get();
    raw.close();
    expect(orphans).toBe(0);
    expect(sizeAfter).toBeLessThan(sizeBefore * 0.8);
    await store.close();

    const r = openReader(db);
    expect(r.integrityCheck()).toBe('ok');
    expect(
      r
        .listRuns()
        .map((x) => [x.id, x.name, x.snapshots])
        .sort(),
    ).toEqual([
      ['a', 'first', 40],
      ['c', 'run c', 40],
    ]);
    for (const id of ['a', 'c']) {
      const infos = r.listSnapshots({ run: id });
      infos.forEach((info, i) => {
        expect(bytesOf(r.readTensor(info.id).data).equals(bytesOf(written.get(id)![i]!.data))).toBe(true);
      });
      expect(r.flowMatrix({ run: id, layer: 'lstm_1', kind: 'output-grad' }).count).toBe(40);
      expect(r.scalars(id)[0]!.count).toBe(1);
    }
    r.close();
  });

  it('compact keeps the first K iterations, every N-th after them, the last and the chosen ones; the file shrinks', async () => {
    const db = join(dir, 'c.gradscope');
    const { store, written } = await threeRuns(db);
    await store.write(snapshot({ run: 'a', iteration: 39, kind: 'output', shape: [4, 30, 16] }));
    await store.flush();
    await expect(store.compact({ every: 0 })).rejects.toThrow(
      'compact policy.every must be a positive integer, got 0',
    );
    const result = await store.compact({ every: 10, keepFirst: 3, keep: [17], runs: ['a', 'run c'] });
    const kept = [0, 1, 2, 3, 13, 17, 23, 33, 39];
    expect(result).toMatchObject({ runs: 2, snapshotsRemoved: 2 * 31, snapshotsKept: 2 * 9 + 1 });
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore * 0.7);
    expect(statSync(db).size).toBe(result.bytesAfter);
    await store.close();

    const r = openReader(db);
    expect(r.integrityCheck()).toBe('ok');
    for (const id of ['a', 'c']) {
      expect([...new Set(r.listSnapshots({ run: id }).map((s) => s.iteration))]).toEqual(kept);
      const flow = r.flowMatrix({ run: id, layer: 'lstm_1', kind: 'output-grad' });
      expect(flow.iterations).toEqual(kept);
      expect(flow.ids).toEqual(r.listSnapshots({ run: id, kind: 'output-grad' }).map((s) => s.id));
      expect(flow.parts!.forward!.length).toBe(kept.length * 30);
      const index = r.seriesIndex({ run: id, layer: 'lstm_1', kind: 'output-grad' });
      expect(Array.from(index.loss)).toEqual(kept.map((i) => written.get(id)![i]!.loss));
      for (const info of r.listSnapshots({ run: id, kind: 'output-grad' })) {
        expect(
          bytesOf(r.readTensor(info.id).data).equals(bytesOf(written.get(id)![info.iteration]!.data)),
        ).toBe(true);
      }
    }
    expect(r.flowMatrix({ run: 'a', layer: 'lstm_1', kind: 'output' }).iterations).toEqual([39]);
    // Not named in `runs`: untouched.
    expect(r.listSnapshots({ run: 'b' }).length).toBe(40);
    r.close();
  });
});

describe('management of a damaged file', () => {
  /** Two runs of 20 snapshots (by default of 192 KiB, several pages each), closed; `damage` then applied. */
  async function file(name: string, damage: (db: string) => void, shape = [64, 48, 16]): Promise<string> {
    const db = join(dir, name);
    const store = openStore(db);
    for (const id of ['a', 'b']) {
      await store.startRun(runInfo(id, `run ${id}`));
      for (let i = 0; i < 20; i++) await store.write(snapshot({ run: id, iteration: i, shape, seed: i + 1 }));
    }
    await store.close();
    damage(db);
    return db;
  }

  it('compact and vacuum refuse a file with zeroed pages, in one line naming it, and change no byte', async () => {
    const db = await file('zeroed.gradscope', zeroPages);
    const raw = new Database(db, { readonly: true });
    expect(raw.pragma('quick_check', { simple: true })).not.toBe('ok');
    raw.close();
    const before = readFileSync(db);
    const store = openStore(db, { onError: () => {} });
    for (const [op, doing] of [
      [() => store.compact({ every: 2 }), 'compacting'],
      [() => store.vacuum(), 'vacuuming'],
    ] as const) {
      const err = await op().then(
        () => undefined,
        (e: unknown) => e as StoreError,
      );
      expect(err).toMatchObject({ code: 'ECORRUPT', file: db });
      expect(err!.message).toMatch(
        new RegExp(
          `^${db.replaceAll('.', '\\.')}: the file is damaged \\(SQLite quick_check: [^\\n]+\\); ${doing} refused, nothing was changed$`,
        ),
      );
    }
    await store.close();
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it('a missing table: checkFile refuses the file in one line naming it', async () => {
    const db = await file('no-table.gradscope', (db) => {
      const raw = new Database(db);
      raw.exec('DROP TABLE scalars');
      raw.close();
    });
    const before = readFileSync(db);
    expect(() => checkFile(db, 'deleting a run')).toThrow(
      new StoreError(
        'ECORRUPT',
        `${db}: the file is damaged (missing index scalars_series, table scalars); deleting a run refused, nothing was changed`,
        { file: db },
      ),
    );
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(() => checkFile(join(dir, 'nothing.gradscope'))).toThrow(/no such database file/);
  });

  it('compact is all or nothing: one that cannot commit (a reader holds the file) leaves every byte', async () => {
    // Snapshots of 24 KiB: the compaction fits the writer's page cache, so it waits for the lock only to commit.
    const db = await file('busy.gradscope', () => {}, [16, 24, 16]);
    const store = openStore(db, { busyTimeoutMs: 100, onError: () => {} });
    // The first compaction switches the file to incremental vacuum (removing nothing with every: 1).
    await expect(store.compact({ every: 1 })).resolves.toMatchObject({ snapshotsRemoved: 0 });
    await store.flush();
    const before = readFileSync(db);
    const reader = new Database(db, { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM snapshots').get();
    await expect(store.compact({ every: 2 })).rejects.toMatchObject({ code: 'EBUSY' });
    reader.exec('COMMIT');
    expect(readFileSync(db).equals(before)).toBe(true);
    // Free again: the compaction removes half the snapshots and the file shrinks in the same commit.
    const done = await store.compact({ every: 2 });
    expect(done).toMatchObject({ snapshotsRemoved: 18, snapshotsKept: 22 });
    expect(done.bytesAfter).toBeLessThan(done.bytesBefore * 0.7);
    await store.close();
    expect(statSync(db).size).toBe(done.bytesAfter);
    const r = openReader(db);
    expect(r.integrityCheck()).toBe('ok');
    r.close();
  });
});
