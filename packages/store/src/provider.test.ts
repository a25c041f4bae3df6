// The reader as a data provider: memory horizon against a direct computation, downsampling inside the
// provider, typed not-found errors, the meaning of a missing part, channel parts that change over a series,
// and the migration of a version-1 file.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from './errors.js';
import { HISTOGRAM_BUCKETS } from './histogram.js';
import { openReader, openRunReader } from './reader.js';
import { SCHEMA_VERSION } from './schema.js';
import { openStore } from './store.js';
import { BACKENDS } from './test-util/backends.js';
import {
  close,
  reference,
  rejected,
  runInfo,
  type SnapOpts,
  snapshot,
  tempDir,
  thrown,
} from './test-util/fixtures.js';
import type { Snapshot } from './types.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** A (sample, timestep, channel) snapshot whose values shrink by `decay` per timestep towards t = 0. */
function decaying(o: SnapOpts & { decay: number }): Snapshot {
  const s = snapshot(o);
  const [S, T, C] = s.shape as [number, number, number];
  for (let i = 0; i < S * T * C; i++) {
    const t = Math.floor(i / C) % T;
    s.data[i] = Math.fround(
      (s.data[i]! >= 0 ? 1 : -1) * (0.5 + ((i * 7919) % 100) / 200) * o.decay ** (T - 1 - t),
    );
  }
  return s;
}

/** The horizon by its definition, from float64 per-timestep norms: no store code involved. */
function directHorizon(norms: number[]): { horizon: number | null; t0Ratio: number | null } {
  const max = Math.max(0, ...norms);
  if (max === 0) return { horizon: null, t0Ratio: null };
  return { horizon: norms.findIndex((v) => v >= 0.01 * max), t0Ratio: norms[0]! / max };
}

describe.each(BACKENDS)('$name provider', (backend) => {
  afterAll(() => backend.cleanup());

  describe('memory horizon', () => {
    it('is stored per snapshot and per channel part, equal to a direct computation, and returned by every query', async () => {
      const db = await backend.fresh();
      const store = openStore(db);
      await store.startRun(runInfo());
      // A vanishing gradient (×0.5 per step back), a learning one (×0.98), a flat one, all zeros, no timestep axis.
      const written = [
        decaying({ iteration: 0, shape: [3, 20, 6], decay: 0.5, channelParts: ['forward', 'backward'] }),
        decaying({ iteration: 10, shape: [3, 20, 6], decay: 0.98, channelParts: ['forward', 'backward'] }),
        decaying({ iteration: 20, shape: [3, 20, 6], decay: 1, channelParts: ['forward', 'backward'] }),
      ];
      const zeros = snapshot({ iteration: 30, shape: [3, 20, 6], channelParts: ['forward', 'backward'] });
      zeros.data.fill(0);
      zeros.nonFinite = 0;
      written.push(zeros);
      for (const s of written) await store.write(s);
      const inputGrad = decaying({ iteration: 0, kind: 'input-grad', shape: [2, 9, 3], decay: 0.3 });
      await store.write(inputGrad);
      await store.write(
        snapshot({
          iteration: 0,
          kind: 'weight-grad',
          part: 'kernel',
          shape: [3, 4],
          dims: ['input', 'unit'],
        }),
      );
      await store.close();

      const r = openRunReader(db);
      const expected = written.map((s) => {
        const whole = directHorizon(reference(s.data, s.shape, s.dims).timestepNorms);
        const fwd = directHorizon(reference(s.data, s.shape, s.dims, (idx) => idx[2]! < 3).timestepNorms);
        const bwd = directHorizon(reference(s.data, s.shape, s.dims, (idx) => idx[2]! >= 3).timestepNorms);
        return { whole, fwd, bwd };
      });
      // The cases are what they claim to be.
      expect(expected[0]!.whole.horizon).toBeGreaterThan(10);
      expect(expected.slice(1).map((e) => e.whole.horizon)).toEqual([0, 0, null]);
      expect(expected[1]!.whole.t0Ratio).toBeGreaterThan(0.5);
      expect(expected[0]!.whole.t0Ratio).toBeLessThan(1e-5);

      const same = (got: number | null, want: number | null) =>
        want === null ? got === null : got !== null && close(got, want, 1e-6);
      const index = await r.listSnapshots({ run: 'run-1', kind: 'output-grad' });
      for (const [i, info] of index.entries()) {
        const e = expected[i]!;
        expect(info.summary.horizon).toBe(e.whole.horizon);
        expect(same(info.summary.t0Ratio, e.whole.t0Ratio), `t0Ratio of row ${i}`).toBe(true);
        const summary = (await r.getSummary(info.id))!;
        expect(summary.horizon).toBe(e.whole.horizon);
        expect(summary.parts!.forward!.horizon).toBe(e.fwd.horizon);
        expect(summary.parts!.backward!.horizon).toBe(e.bwd.horizon);
        expect(same(summary.parts!.backward!.t0Ratio, e.bwd.t0Ratio)).toBe(true);
      }

      const flow = await r.flowMatrix({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' });
      expect(flow.horizon).toEqual(expected.map((e) => e.whole.horizon));
      expect(flow.t0Ratio.every((v, i) => same(v, expected[i]!.whole.t0Ratio))).toBe(true);
      expect(flow.partHorizons!.forward!.horizon).toEqual(expected.map((e) => e.fwd.horizon));
      const idx = await r.seriesIndex({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' });
      expect(Array.from(idx.horizon, (v) => (Number.isNaN(v) ? null : v))).toEqual(flow.horizon);

      // input-grad: summaries, flow, histograms and horizon like output-grad.
      const ig = await r.flowMatrix({ run: 'run-1', layer: 'lstm_1', kind: 'input-grad' });
      const igRef = reference(inputGrad.data, inputGrad.shape, inputGrad.dims);
      expect(ig.timesteps).toBe(9);
      igRef.timestepNorms.forEach((v, t) => {
        expect(close(ig.norms[t]!, v)).toBe(true);
      });
      expect(ig.horizon).toEqual([directHorizon(igRef.timestepNorms).horizon]);
      const igHist = await r.histogramSeries({ run: 'run-1', layer: 'lstm_1', kind: 'input-grad' });
      expect(Array.from(igHist.counts).reduce((a, b) => a + b, 0)).toBe(igRef.finite.length);

      // No timestep axis: null.
      const w = (await r.listSnapshots({ run: 'run-1', kind: 'weight-grad' }))[0]!;
      expect([w.summary.horizon, w.summary.t0Ratio]).toEqual([null, null]);
      await r.close();
    });
  });

  describe('the reader as a data provider', () => {
    it('downsamples flow, histograms and the series index inside the provider: rows of the stored ones, first and last kept', async () => {
      const db = await backend.fresh();
      const store = openStore(db);
      for (let i = 0; i < 100; i++)
        await store.write(snapshot({ iteration: i * 5, shape: [2, 4, 2], seed: i + 1 }));
      await store.close();
      const r = openRunReader(db);
      const key = { run: 'run-1', layer: 'lstm_1', kind: 'output-grad' as const };
      const all = await r.flowMatrix(key);
      expect([all.count, all.iterations.length]).toEqual([100, 100]);
      const few = await r.flowMatrix(key, { maxRows: 10 });
      expect(few.count).toBe(100);
      // From level 1 (every 8th of the 100 snapshots: 13 rows) and the newest: 10 of those 14, evenly spaced.
      expect(few.iterations).toEqual([0, 40, 120, 160, 240, 280, 360, 400, 480, 495]);
      few.iterations.forEach((it, i) => {
        const row = all.iterations.indexOf(it);
        expect(few.ids[i]).toBe(all.ids[row]);
        expect(Array.from(few.norms.subarray(i * 4, i * 4 + 4))).toEqual(
          Array.from(all.norms.subarray(row * 4, row * 4 + 4)),
        );
        expect(few.horizon[i]).toBe(all.horizon[row]);
      });
      const hist = await r.histogramSeries(key, { maxRows: 10 });
      const histAll = await r.histogramSeries(key);
      expect(hist.iterations).toEqual(few.iterations);
      expect(hist.count).toBe(100);
      const B = HISTOGRAM_BUCKETS;
      expect(Array.from(hist.counts.subarray(9 * B, 10 * B))).toEqual(
        Array.from(histAll.counts.subarray(99 * B, 100 * B)),
      );
      expect(hist.percentiles.values.length).toBe(10 * 9);

      const index = await r.seriesIndex(key, { maxRows: 10 });
      expect(Array.from(index.iterations)).toEqual(few.iterations);
      const infos = await r.listSnapshots({ run: 'run-1' });
      index.ids.forEach((id, i) => {
        const info = infos.find((s) => s.id === id)!;
        expect([
          index.loss[i],
          index.l2[i],
          index.maxAbs[i],
          index.min[i],
          index.max[i],
          index.time[i],
        ]).toEqual([
          info.loss,
          info.summary.l2,
          info.summary.maxAbs,
          info.summary.min,
          info.summary.max,
          info.time,
        ]);
      });
      await r.close();
    });

    it('long series are downsampled from the precomputed levels: real rows, the first and the newest kept, values as at level 0', async () => {
      const db = await backend.fresh();
      const store = openStore(db);
      // Written out of order, in two runs of the writer: levels follow the order of writing.
      const order = Array.from({ length: 700 }, (_, i) => (i * 211) % 700);
      for (const [k, iteration] of order.entries()) {
        await store.write(
          snapshot({
            iteration,
            shape: [1, 6, 4],
            channelParts: ['forward', 'backward'],
            seed: iteration + 1,
          }),
        );
        if (k === 350) await store.flush();
      }
      await store.close();
      // The levels as stored: the file's chunk rows; on PostgreSQL, the snapshots at every 8^L-th position.
      const perLevel = [
        { level: 0, n: 700 },
        { level: 1, n: 88 },
        { level: 2, n: 11 },
        { level: 3, n: 2 },
        { level: 4, n: 1 },
      ];
      if (backend.name === 'sqlite') {
        const raw = new Database(db, { readonly: true });
        expect(
          raw
            .prepare(
              "SELECT level, sum(count) AS n FROM series_chunks WHERE channel_part = '' GROUP BY level",
            )
            .all(),
        ).toEqual(perLevel);
        raw.close();
      } else {
        const client = new pg.Client({ connectionString: db });
        await client.connect();
        const levels = [];
        for (const { level } of perLevel) {
          const { rows } = await client.query(
            'SELECT count(*)::int AS n FROM gradscope.snapshots WHERE pos % $1 = 0',
            [8 ** level],
          );
          levels.push({ level, n: rows[0].n });
        }
        await client.end();
        expect(levels).toEqual(perLevel);
      }
      const r = openRunReader(db);
      const key = { run: 'run-1', layer: 'lstm_1', kind: 'output-grad' as const };
      const all = await r.flowMatrix(key);
      const few = await r.flowMatrix(key, { maxRows: 50 });
      expect(few.count).toBe(700);
      expect(few.iterations.length).toBeGreaterThanOrEqual(45);
      expect(few.iterations.length).toBeLessThanOrEqual(50);
      expect(few.iterations[0]).toBe(0);
      // The newest snapshot written is in, whatever its iteration.
      expect(few.ids).toContain(Math.max(...all.ids));
      expect([...few.iterations].sort((a, b) => a - b)).toEqual(few.iterations);
      few.ids.forEach((id, i) => {
        const row = all.ids.indexOf(id);
        expect(few.iterations[i]).toBe(all.iterations[row]);
        expect(Array.from(few.norms.subarray(i * 6, i * 6 + 6))).toEqual(
          Array.from(all.norms.subarray(row * 6, row * 6 + 6)),
        );
        expect(Array.from(few.parts!.backward!.subarray(i * 6, i * 6 + 6))).toEqual(
          Array.from(all.parts!.backward!.subarray(row * 6, row * 6 + 6)),
        );
      });
      const hist = await r.histogramSeries(key, { maxRows: 10 });
      expect(hist.count).toBe(700);
      expect(hist.iterations.length).toBeLessThanOrEqual(10);
      expect(Array.from((await r.seriesIndex(key, { maxRows: 50 })).ids)).toEqual(few.ids);
      await r.close();
    });

    it('requireRun and every lookup raise one typed NotFoundError; a missing part is the whole output on every series query', async () => {
      const db = await backend.fresh();
      const store = openStore(db);
      await store.startRun(runInfo('run-1', 'exp'));
      await store.write(snapshot({ iteration: 0, shape: [1, 3, 2] }));
      await store.write(snapshot({ iteration: 0, kind: 'output', part: 'forward', shape: [1, 3, 2] }));
      await store.close();
      const r = openRunReader(db);
      expect((await r.requireRun('exp')).id).toBe('run-1');
      const e = await rejected(() => r.requireRun('nope'));
      expect(e).toBeInstanceOf(NotFoundError);
      expect(e).toMatchObject({ code: 'ENOTFOUND', file: r.path, subject: { what: 'run', run: 'nope' } });
      expect(e.message).toBe(`${r.path}: no run with id or name "nope"`);
      for (const call of [
        () => r.listLayers('nope'),
        () => r.listSnapshots({ run: 'nope' }),
        () => r.flowMatrix({ run: 'nope', layer: 'lstm_1', kind: 'output-grad' }),
        () => r.scalars('nope'),
      ]) {
        expect((await rejected(call)).message).toBe(e.message);
      }
      expect(await rejected(() => r.getTensor(99))).toMatchObject({
        code: 'ENOTFOUND',
        subject: { what: 'snapshot', id: 99 },
      });
      const s = await rejected(() => r.flowMatrix({ run: 'exp', layer: 'lstm_1', kind: 'output' }));
      expect(s).toMatchObject({
        code: 'ENOTFOUND',
        subject: { what: 'series', layer: 'lstm_1', kind: 'output', part: null },
      });

      // part missing ≡ part null ≡ the whole output, for flow, histograms and the index alike.
      const key = { run: 'exp', layer: 'lstm_1', kind: 'output-grad' as const };
      expect((await r.flowMatrix(key)).ids).toEqual((await r.flowMatrix({ ...key, part: null })).ids);
      expect((await r.histogramSeries(key)).ids).toEqual((await r.flowMatrix(key)).ids);
      expect(Array.from((await r.seriesIndex(key)).ids)).toEqual((await r.flowMatrix(key)).ids);
      expect(
        (await r.flowMatrix({ run: 'exp', layer: 'lstm_1', kind: 'output', part: 'forward' })).count,
      ).toBe(1);
      await r.close();
    });

    it('a series whose channelParts change between iterations keeps every row aligned (NaN rows where a part is missing)', async () => {
      const db = await backend.fresh();
      const store = openStore(db);
      const written = [
        snapshot({ iteration: 0, shape: [2, 5, 4], channelParts: ['forward', 'backward'] }),
        snapshot({ iteration: 10, shape: [2, 5, 4] }),
        snapshot({ iteration: 20, shape: [2, 5, 6], channelParts: ['a', 'b', 'c'] }),
        snapshot({ iteration: 30, shape: [2, 7, 4], channelParts: ['forward', 'backward'] }),
      ];
      for (const s of written) await store.write(s);
      await store.close();
      const r = openRunReader(db);
      const key = { run: 'run-1', layer: 'lstm_1', kind: 'output-grad' as const };
      const flow = await r.flowMatrix(key);
      expect(flow.iterations).toEqual([0, 10, 20, 30]);
      expect(flow.timesteps).toBe(7);
      expect(Object.keys(flow.parts!).sort()).toEqual(['a', 'b', 'backward', 'c', 'forward']);
      const fwd = flow.parts!.forward!;
      expect(fwd.length).toBe(4 * 7);
      const ref0 = reference(written[0]!.data, [2, 5, 4], written[0]!.dims, (idx) => idx[2]! < 2);
      for (let t = 0; t < 5; t++) expect(close(fwd[t]!, ref0.timestepNorms[t]!)).toBe(true);
      expect(Number.isNaN(fwd[5]!)).toBe(true); // a 5-step row padded to 7
      expect(Array.from(fwd.subarray(7, 21)).every(Number.isNaN)).toBe(true); // iterations 10 and 20 have no 'forward'
      const ref3 = reference(written[3]!.data, [2, 7, 4], written[3]!.dims, (idx) => idx[2]! < 2);
      for (let t = 0; t < 7; t++) expect(close(fwd[21 + t]!, ref3.timestepNorms[t]!)).toBe(true);
      expect(flow.partHorizons!.c!.horizon[0]).toBeNull();

      const hist = await r.histogramSeries(key);
      const B = HISTOGRAM_BUCKETS;
      const total = (a: Uint32Array, row: number) =>
        a.subarray(row * B, (row + 1) * B).reduce((x, y) => x + y, 0);
      expect([0, 1, 2, 3].map((row) => total(hist.parts!.forward!, row))).toEqual([20, 0, 0, 28]);
      expect([0, 1, 2, 3].map((row) => total(hist.parts!.b!, row))).toEqual([0, 0, 20, 0]);
      expect([0, 1, 2, 3].map((row) => total(hist.counts, row))).toEqual(
        written.map((s) => reference(s.data, s.shape, s.dims).finite.length),
      );
      expect((await r.flowMatrix(key, { maxRows: 2 })).parts!.a!.length).toBe(2 * 7);
      await r.close();
    });
  });
});

describe('the SQLite file', () => {
  it('migrates a version-1 file: horizons computed from the stored norms, the reader refuses it until then', async () => {
    const db = join(dir, 'v1.gradscope');
    const store = openStore(db);
    await store.startRun(runInfo());
    const written = [0, 1, 2].map((i) =>
      decaying({
        iteration: i,
        shape: [2, 12, 4],
        decay: 0.4 + i * 0.3,
        channelParts: ['forward', 'backward'],
      }),
    );
    for (const s of written) await store.write(s);
    await store.close();
    const before = openReader(db);
    const flowBefore = before.flowMatrix({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' });
    before.close();
    // Take the file back to version 1: what the first schema had, nothing more.
    const raw = new Database(db);
    raw.exec(`
      DROP INDEX scalars_series; DROP TABLE scalars;
      DROP INDEX runs_group; ALTER TABLE runs DROP COLUMN run_group; ALTER TABLE runs DROP COLUMN params;
      ALTER TABLE runs DROP COLUMN writer; ALTER TABLE runs DROP COLUMN heartbeat_at; ALTER TABLE runs DROP COLUMN implicit;
      ALTER TABLE snapshots DROP COLUMN horizon; ALTER TABLE snapshots DROP COLUMN t0_ratio;
      ALTER TABLE summaries DROP COLUMN horizon; ALTER TABLE summaries DROP COLUMN t0_ratio;
      ALTER TABLE series_chunks DROP COLUMN stats;
    `);
    raw.pragma('user_version = 1');
    raw.close();
    expect(thrown(() => openReader(db))).toMatchObject({ code: 'EOLDER' });
    await openStore(db).close();
    const r = openReader(db);
    const flow = r.flowMatrix({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' });
    expect(flow.horizon).toEqual(flowBefore.horizon);
    expect(flow.t0Ratio).toEqual(flowBefore.t0Ratio);
    expect(flow.partHorizons).toEqual(flowBefore.partHorizons);
    expect(flow.horizon).toEqual(
      written.map((s) => directHorizon(reference(s.data, s.shape, s.dims).timestepNorms).horizon),
    );
    expect(r.listSnapshots({ run: 'run-1' }).map((s) => s.summary.horizon)).toEqual(flow.horizon);
    expect(r.seriesIndex({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' }).loss[2]).toBe(
      written[2]!.loss,
    );
    expect(r.scalars('run-1')).toEqual([]);
    expect(r.integrityCheck()).toBe('ok');
    const v = new Database(db, { readonly: true });
    expect(v.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    v.close();
    r.close();
  });
});
