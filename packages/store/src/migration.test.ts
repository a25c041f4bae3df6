// A real version-1 file (written by the store of commit fb927bb, see test-util/fixtures/make-v1.mjs) is
// migrated by openStore and then fully readable; openReader on an unmigrated copy says what to run.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LEVELS_SQL } from './read/series.js';
import { openReader } from './reader.js';
import { READABLE_FROM, SCHEMA_VERSION } from './schema.js';
import { openStore } from './store.js';
import { runInfo, snapshot, tempDir } from './test-util/fixtures.js';

const FIXTURE = new URL('./test-util/fixtures/v1.gradscope.gz', import.meta.url);

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** The values make-v1.mjs wrote at iteration index `it`: 2 samples × 5 timesteps × 3 channels. */
function v1Values(it: number): Float32Array {
  const data = new Float32Array(30);
  for (let s = 0; s < 2; s++)
    for (let t = 0; t < 5; t++)
      for (let c = 0; c < 3; c++)
        data[s * 15 + t * 3 + c] = (it + 1) * 5 ** (t - 4) * (1 + c / 10) * (s ? -1 : 1);
  return data;
}

/** Independent per-timestep L2 norms (float64) of v1Values(it). */
function v1Norms(it: number): number[] {
  const d = v1Values(it);
  return [0, 1, 2, 3, 4].map((t) => {
    let sum = 0;
    for (let s = 0; s < 2; s++) for (let c = 0; c < 3; c++) sum += d[s * 15 + t * 3 + c]! ** 2;
    return Math.sqrt(sum);
  });
}

/** Every table's columns (name, type, not null, default, key) and every index's columns, in name order. */
function schemaOf(db: Database.Database): Record<string, string[]> {
  const objects = db
    .prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as { type: string; name: string }[];
  return Object.fromEntries(
    objects.map(({ type, name }) => {
      const rows = db.pragma(`${type === 'table' ? 'table_info' : 'index_info'}(${name})`) as Record<
        string,
        unknown
      >[];
      const cols = rows.map((c) =>
        type === 'table'
          ? `${c.name} ${c.type} ${c.notnull} ${c.dflt_value} ${c.pk}`
          : `${c.seqno} ${c.name}`,
      );
      return [`${type} ${name}`, type === 'table' ? cols.sort() : cols];
    }),
  );
}

function unpack(name: string): string {
  const file = join(dir, name);
  writeFileSync(file, gunzipSync(readFileSync(FIXTURE)));
  return file;
}

describe('a version-1 file', () => {
  it('is a real version-1 file: user_version 1, series_chunks without level, no scalars table', () => {
    const file = unpack('raw.gradscope');
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    const cols = (db.prepare('PRAGMA table_info(series_chunks)').all() as { name: string }[]).map(
      (c) => c.name,
    );
    expect(cols).not.toContain('level');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).not.toContain('scalars');
    db.close();
  });

  it('openReader on an unmigrated copy: EOLDER naming the file, the version found and what to run', () => {
    const file = unpack('old.gradscope');
    let error: (Error & { code?: string; file?: string }) | undefined;
    try {
      openReader(file);
    } catch (e) {
      error = e as Error & { code?: string };
    }
    expect(error?.code).toBe('EOLDER');
    expect(error?.message).toBe(
      `${file} has schema version 1, older than ${READABLE_FROM} (written by an older gradscope): ` +
        `migrate it once by opening it for writing: run \`gradscope vacuum ${file}\` (or openStore('${file}') in code), then open it again`,
    );
    expect(error?.message).not.toMatch(/no such column/);
  });

  it('openStore migrates it: runs, snapshots, summaries with horizon, flow, series index, histograms, tensors, new writes', async () => {
    const file = unpack('v1.gradscope');
    const backup = join(dir, 'v1-copy.gradscope');
    copyFileSync(file, backup);
    const store = openStore(file);
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    // The migrated schema is the one a new file gets (schema.ts written out whole), column for column.
    const fresh = join(dir, 'fresh.gradscope');
    await openStore(fresh).close();
    const freshDb = new Database(fresh, { readonly: true });
    expect(schemaOf(db)).toEqual(schemaOf(freshDb));
    freshDb.close();
    db.close();

    const r = openReader(file);
    const runs = r.listRuns();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: 'v1-run', name: 'v1 experiment', status: 'finished', snapshots: 4 });
    const run = r.requireRun('v1-run');
    expect(run.model.layers[0]!.name).toBe('lstm_1');

    const snaps = r.listSnapshots({ run: 'v1-run', layer: 'lstm_1', kind: 'output-grad' });
    expect(snaps.map((s) => s.iteration)).toEqual([0, 10, 20, 30]);
    for (const [i, s] of snaps.entries()) {
      const norms = v1Norms(i);
      const max = Math.max(...norms);
      // Horizon: the first t with norm >= 1% of the largest: norms grow 5× per step (1/625, 1/125, 1/25 of the largest), so t = 2.
      expect(s.summary.horizon).toBe(2);
      expect(s.summary.t0Ratio!).toBeCloseTo(norms[0]! / max, 9);
      expect(s.summary.l2).toBeCloseTo(Math.sqrt(norms.reduce((a, n) => a + n * n, 0)), 5);
      expect(s.loss).toBeCloseTo(1 / (i + 1), 12);
      const t = r.readTensor(s.id);
      expect(t.shape).toEqual([2, 5, 3]);
      expect(Array.from(t.data)).toEqual(Array.from(v1Values(i)));
    }

    const flow = r.flowMatrix({ run: 'v1-run', layer: 'lstm_1', kind: 'output-grad', part: null });
    expect(flow.count).toBe(4);
    expect(flow.timesteps).toBe(5);
    expect(flow.iterations).toEqual([0, 10, 20, 30]);
    expect(flow.horizon).toEqual([2, 2, 2, 2]);
    for (let i = 0; i < 4; i++) {
      const expected = v1Norms(i);
      for (let t = 0; t < 5; t++) {
        const got = flow.norms[i * 5 + t]!;
        expect(Math.abs(got - expected[t]!) / expected[t]!).toBeLessThan(1e-6);
      }
    }
    const index = r.seriesIndex({ run: 'v1-run', layer: 'lstm_1', kind: 'output-grad', part: null });
    expect(Array.from(index.horizon)).toEqual([2, 2, 2, 2]);
    expect(Array.from(index.iterations)).toEqual([0, 10, 20, 30]);
    expect(Array.from(index.time)).toEqual([0, 1, 2, 3].map((i) => 1_764_000_000_000 + i * 1000));
    const hist = r.histogramSeries({ run: 'v1-run', layer: 'lstm_1', kind: 'output-grad', part: null });
    let total = 0;
    for (const c of hist.counts) total += c;
    expect(total).toBe(4 * 30);
    expect(r.scalars('v1-run')).toEqual([]);
    r.close();

    // The migrated file takes new writes (snapshots and scalars) beside the old ones.
    const again = openStore(file);
    await again.write(snapshot({ run: 'v1-run', iteration: 40, layer: 'lstm_1', shape: [2, 5, 3], seed: 9 }));
    await again.writeScalars('v1-run', [{ iteration: 40, name: 'loss', value: 0.5, time: 1 }]);
    await again.close();
    const r2 = openReader(file);
    expect(
      r2.flowMatrix({ run: 'v1-run', layer: 'lstm_1', kind: 'output-grad', part: null }).iterations,
    ).toEqual([0, 10, 20, 30, 40]);
    expect(r2.scalars('v1-run').map((s) => [s.name, Array.from(s.values)])).toEqual([['loss', [0.5]]]);
    r2.close();
  });
});

describe('a version-2 file', () => {
  it('openStore adds the group and params of runs: its runs read with no group and {}, and take tags', async () => {
    const file = join(dir, 'v2.gradscope');
    const store = openStore(file);
    await store.startRun(runInfo('old-run', 'before groups'));
    await store.write(snapshot({ run: 'old-run', iteration: 10 }));
    await store.close();
    // Take the file back to version 2 as that version wrote it: no run_group, no params.
    const raw = new Database(file);
    raw.exec(
      'DROP INDEX runs_group; DROP INDEX series_chunk_counts; ALTER TABLE runs DROP COLUMN run_group; ALTER TABLE runs DROP COLUMN params',
    );
    raw.pragma('user_version = 2');
    raw.close();
    expect(() => openReader(file)).toThrow('has schema version 2, older than 3');

    const again = openStore(file);
    await again.tagRun('old-run', { group: 'g', params: { seed: 1 } });
    await again.close();
    const cols = new Database(file, { readonly: true });
    expect(cols.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    cols.close();
    const r = openReader(file);
    const run = r.requireRun('old-run');
    expect([run.name, run.snapshots, run.group, run.params]).toEqual(['before groups', 1, 'g', { seed: 1 }]);
    r.close();
  });
});

describe('a version-3 file', () => {
  it('is read as it is; openStore adds the index of chunk counts, from which a series query picks its level', async () => {
    const file = join(dir, 'v3.gradscope');
    const store = openStore(file);
    await store.startRun(runInfo('r'));
    for (let it = 0; it < 100; it++) await store.write(snapshot({ run: 'r', iteration: it }));
    await store.close();
    const key = { run: 'r', layer: 'lstm_1', kind: 'output-grad' as const };
    const before = openReader(file);
    const flow = before.flowMatrix(key, { maxRows: 10 });
    before.close();
    const raw = new Database(file);
    raw.exec('DROP INDEX series_chunk_counts');
    raw.pragma('user_version = 3');
    raw.close();
    // A reader opens it as it is, and reads the same flow without the index.
    const v3 = openReader(file);
    expect(v3.flowMatrix(key, { maxRows: 10 })).toEqual(flow);
    v3.close();
    await openStore(file).close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    // The level query (read/series.ts) reads the index alone.
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${LEVELS_SQL}`).all(1, 'lstm_1', 'output-grad', '') as {
      detail: string;
    }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING COVERING INDEX series_chunk_counts/);
    db.close();
    const after = openReader(file);
    expect(after.flowMatrix(key, { maxRows: 10 })).toEqual(flow);
    after.close();
  });
});
