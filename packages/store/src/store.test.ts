import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import { HISTOGRAM_BUCKETS } from './histogram.js';
import { SERIES_ENDS } from './read/runs.js';
import { openReader, openRunReader } from './reader.js';
import { openStore } from './store.js';
import { BACKENDS } from './test-util/backends.js';
import { bytesOf, close, reference, runInfo, snapshot, tempDir } from './test-util/fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

describe.each(BACKENDS)('openStore → openReader round trip ($name provider)', (backend) => {
  afterAll(() => backend.cleanup());

  it('lists runs and layers from the ends of each series: layers in order of first appearance, iterations written out of order', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    const its = [30, 10, 20, 10];
    for (const iteration of its)
      await store.write(snapshot({ iteration, layer: 'gru_2', layerClass: 'GRU' }));
    await store.write(snapshot({ iteration: 5, layer: 'lstm_1', kind: 'output' }));
    await store.write(snapshot({ iteration: 40, layer: 'lstm_1', kind: 'output' }));
    await store.close();
    const r = openRunReader(db);
    expect((await r.listRuns())[0]).toMatchObject({
      id: 'run-1',
      snapshots: 6,
      lastIteration: 40,
      layers: ['gru_2', 'lstm_1'],
    });
    expect((await r.getRun('run-1'))!.options.capture).toEqual(['output-grad', 'output']);
    expect(await r.listLayers('run-1')).toEqual([
      {
        layer: 'gru_2',
        layerClass: 'GRU',
        kinds: { 'output-grad': [null] },
        parts: [null],
        firstIteration: 10,
        lastIteration: 30,
        iterationCount: 3,
        snapshots: 4,
      },
      {
        layer: 'lstm_1',
        layerClass: 'LSTM',
        kinds: { output: [null] },
        parts: [null],
        firstIteration: 5,
        lastIteration: 40,
        iterationCount: 2,
        snapshots: 2,
      },
    ]);
    await r.close();
    if (backend.name === 'sqlite') {
      // The plan: index seeks into snapshots, never a scan of a run's snapshot rows.
      const raw = new Database(db, { readonly: true });
      const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${SERIES_ENDS}`).all(1) as { detail: string }[]).map(
        (p) => p.detail,
      );
      raw.close();
      expect(plan.filter((d) => d.startsWith('SCAN'))).toEqual([]);
      expect(plan.filter((d) => d.startsWith('SEARCH s '))).toEqual([
        'SEARCH s USING COVERING INDEX snapshots_flow (run_key=? AND layer=? AND kind=? AND part=?)',
        'SEARCH s USING COVERING INDEX snapshots_flow (run_key=? AND layer=? AND kind=? AND part=?)',
      ]);
      expect(plan.filter((d) => d.includes('TEMP B-TREE'))).toEqual(['USE TEMP B-TREE FOR ORDER BY']);
    }
  });

  it('stores runs and snapshots bit-exactly and answers every query from the write-time summaries', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    await store.startRun(runInfo('run-1', 'experiment'));
    const written = [];
    for (const iteration of [0, 20, 40, 60]) {
      const out = snapshot({
        iteration,
        shape: [3, 7, 6],
        channelParts: ['forward', 'backward'],
        nonFinite: iteration === 40 ? 2 : 0,
      });
      const w = snapshot({
        iteration,
        kind: 'weight-grad',
        part: 'kernel/i',
        shape: [5, 4],
        dims: ['input', 'unit'],
        seed: 100 + iteration,
      });
      written.push(out, w);
      await store.write(out);
      await store.write(w);
    }
    await store.flush();
    await store.endRun('run-1', 'finished');
    await store.close();
    await store.close(); // idempotent

    const r = openRunReader(db);
    const runs = await r.listRuns();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: 'run-1',
      name: 'experiment',
      status: 'finished',
      snapshots: 8,
      lastIteration: 60,
      layers: ['lstm_1'],
      backend: 'cpu',
      tfjsVersion: '4.22.0',
      host: 'test-host',
    });
    const details = (await r.getRun('experiment'))!;
    expect(details.id).toBe('run-1');
    expect(details.model).toEqual(runInfo().model);
    expect(details.options).toEqual(runInfo().options);
    expect(await r.getRun('nope')).toBeUndefined();

    expect(await r.listLayers('run-1')).toEqual([
      {
        layer: 'lstm_1',
        layerClass: 'LSTM',
        kinds: { 'output-grad': [null], 'weight-grad': ['kernel/i'] },
        parts: [null, 'kernel/i'],
        firstIteration: 0,
        lastIteration: 60,
        iterationCount: 4,
        snapshots: 8,
        channelParts: ['forward', 'backward'],
      },
    ]);

    const index = await r.listSnapshots({
      run: 'experiment',
      layer: 'lstm_1',
      kind: 'output-grad',
      part: null,
    });
    expect(index.map((s) => s.iteration)).toEqual([0, 20, 40, 60]);
    expect((await r.listSnapshots({ run: 'run-1', from: 20, to: 40 })).map((s) => s.iteration)).toEqual([
      20, 20, 40, 40,
    ]);
    expect(
      (await r.listSnapshots({ run: 'run-1', iterations: [0, 60], kind: 'weight-grad' })).map((s) => s.part),
    ).toEqual(['kernel/i', 'kernel/i']);

    for (const info of await r.listSnapshots({ run: 'run-1' })) {
      const src = written.find((s) => s.iteration === info.iteration && s.kind === info.kind)!;
      expect(info).toMatchObject({
        run: 'run-1',
        epoch: src.epoch,
        batch: src.batch,
        layerClass: 'LSTM',
        shape: src.shape,
        dims: src.dims,
        loss: src.loss,
        time: src.time,
        nonFinite: src.nonFinite,
        part: src.part ?? null,
      });
      const t = await r.readTensor(info.id);
      expect(t.shape).toEqual(src.shape);
      expect(bytesOf(t.data).equals(bytesOf(src.data))).toBe(true);
      expect(t.meta).toMatchObject({ run: 'run-1', iteration: src.iteration, layer: 'lstm_1' });
      const ref = reference(src.data, src.shape, src.dims);
      expect(close(info.summary.l2, ref.l2, 1e-12)).toBe(true);
      expect(info.summary.maxAbs).toBe(ref.maxAbs);
      expect(info.summary.nonFinite).toBe(ref.nonFinite);
    }

    // Flow matrix: iteration-major per-timestep norms, per direction too.
    const flow = await r.flowMatrix({ run: 'experiment', layer: 'lstm_1', kind: 'output-grad' });
    expect(flow.iterations).toEqual([0, 20, 40, 60]);
    expect(flow.timesteps).toBe(7);
    expect(flow.norms.length).toBe(4 * 7);
    expect(Object.keys(flow.parts!).sort()).toEqual(['backward', 'forward']);
    written
      .filter((s) => s.kind === 'output-grad')
      .forEach((s, i) => {
        const whole = reference(s.data, s.shape, s.dims);
        const fwd = reference(s.data, s.shape, s.dims, (idx) => idx[2]! < 3);
        for (let t = 0; t < 7; t++) {
          expect(close(flow.norms[i * 7 + t]!, whole.timestepNorms[t]!)).toBe(true);
          expect(close(flow.parts!.forward![i * 7 + t]!, fwd.timestepNorms[t]!)).toBe(true);
        }
      });
    const w0 = written.find((s) => s.kind === 'weight-grad')!;
    const w0info = (
      await r.listSnapshots({ run: 'run-1', kind: 'weight-grad', iterations: [w0.iteration] })
    )[0]!;
    const chan = (await r.getSummary(w0info.id))!.channelNorms!;
    expect(chan.length).toBe(4);
    reference(w0.data, w0.shape, w0.dims).channelNorms.forEach((v, c) => {
      expect(close(chan[c]!, v)).toBe(true);
    });
    await expect(
      Promise.resolve().then(() =>
        r.flowMatrix({ run: 'run-1', layer: 'lstm_1', kind: 'weight-grad', part: 'kernel/i' }),
      ),
    ).rejects.toThrow(/tensors have no 'timestep' axis/);

    const hist = await r.histogramSeries({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' });
    expect(hist.iterations).toEqual([0, 20, 40, 60]);
    expect(hist.counts.length).toBe(4 * HISTOGRAM_BUCKETS);
    written
      .filter((s) => s.kind === 'output-grad')
      .forEach((s, i) => {
        const ref = reference(s.data, s.shape, s.dims);
        let total = 0;
        for (let b = 0; b < HISTOGRAM_BUCKETS; b++) total += hist.counts[i * HISTOGRAM_BUCKETS + b]!;
        expect(total).toBe(ref.finite.length);
        expect(hist.percentiles.values[i * 9]).toBe(ref.min);
        expect(hist.percentiles.values[i * 9 + 8]).toBe(ref.max);
      });
    expect(Object.keys(hist.parts!).sort()).toEqual(['backward', 'forward']);

    const summary = (await r.getSummary(index[0]!.id))!;
    expect(Object.keys(summary.parts!)).toEqual(['forward', 'backward']);
    expect(summary.histogram.edges.length).toBe(HISTOGRAM_BUCKETS + 1);
    expect((await r.snapshotsAfter(index[0]!.id)).length).toBe(7);
    expect(await r.integrityCheck()).toBe('ok');
    await r.close();
  });

  it('flow and histogram series span several chunks and come back in iteration order whatever the write order', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    const order = Array.from({ length: 75 }, (_, i) => (i * 37) % 75); // a permutation of 0…74
    const byIteration = new Map<number, ReturnType<typeof snapshot>>();
    for (const iteration of order) {
      const s = snapshot({ iteration, shape: [2, 3, 4], channelParts: ['forward', 'backward'] });
      byIteration.set(iteration, s);
      await store.write(s);
    }
    await store.close();
    const r = openRunReader(db);
    const flow = await r.flowMatrix({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad', part: null });
    expect(flow.iterations).toEqual(Array.from({ length: 75 }, (_, i) => i));
    const hist = await r.histogramSeries({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad' });
    expect(hist.ids).toEqual(flow.ids);
    for (const [row, iteration] of flow.iterations.entries()) {
      const s = byIteration.get(iteration)!;
      const ref = reference(s.data, s.shape, s.dims);
      const bwd = reference(s.data, s.shape, s.dims, (idx) => idx[2]! >= 2);
      for (let t = 0; t < 3; t++) {
        expect(close(flow.norms[row * 3 + t]!, ref.timestepNorms[t]!)).toBe(true);
        expect(close(flow.parts!.backward![row * 3 + t]!, bwd.timestepNorms[t]!)).toBe(true);
      }
      const counts = Array.from(hist.counts.subarray(row * HISTOGRAM_BUCKETS, (row + 1) * HISTOGRAM_BUCKETS));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(ref.finite.length);
      expect(hist.percentiles.values[row * 9]).toBe(ref.min);
      expect((await r.getSnapshot(flow.ids[row]!))!.iteration).toBe(iteration);
    }
    await r.close();
  });

  it('records a snapshot of a run that was never started, and NaN loss comes back as NaN', async () => {
    const db = await backend.fresh();
    const store = openStore(db, { durable: true });
    await store.write(snapshot({ run: 'loose', loss: Number.NaN }));
    await store.close();
    const r = openRunReader(db);
    // Made by a snapshot alone: it ends with the store that made it.
    expect(await r.getRun('loose')).toMatchObject({
      id: 'loose',
      name: 'loose',
      status: 'finished',
      snapshots: 1,
    });
    expect(Number.isNaN((await r.listSnapshots({ run: 'loose' }))[0]!.loss)).toBe(true);
    await r.close();
  });

  it('applies backpressure on a full queue: write() waits, warns once, and nothing is dropped', async () => {
    const db = await backend.fresh();
    const warnings: string[] = [];
    const one = snapshot({ shape: [4, 50, 50] }).data.byteLength;
    const store = openStore(db, {
      maxQueueBytes: one * 2,
      maxQueueCount: 3,
      onWarning: (m) => warnings.push(m),
    });
    const pending = [];
    let maxQueued = 0;
    for (let i = 0; i < 12; i++) {
      pending.push(store.write(snapshot({ iteration: i, shape: [4, 50, 50] })));
      maxQueued = Math.max(maxQueued, store.stats().queuedBytes);
    }
    expect(store.stats().waiting).toBeGreaterThan(0);
    await Promise.all(pending);
    await store.flush();
    expect(maxQueued).toBeLessThanOrEqual(one * 2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`write queue of ${store.path} is full`);
    expect(store.stats()).toMatchObject({
      accepted: 12,
      committed: 12,
      failed: 0,
      queuedBytes: 0,
      queuedCount: 0,
    });
    await store.close();
    const r = openRunReader(db);
    expect((await r.listSnapshots({ run: 'run-1' })).map((s) => s.iteration)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    await r.close();
  });

  it('copies the caller data: the caller may reuse its array once write() resolved', async () => {
    const db = await backend.fresh();
    const a = snapshot({ iteration: 1 });
    const copy = Float32Array.from(a.data);
    const store = openStore(db);
    await store.write(a);
    a.data.fill(0); // the caller may reuse its array once write() resolved
    await store.close();
    const r = openRunReader(db);
    expect(
      bytesOf((await r.readTensor((await r.listSnapshots({ run: 'run-1' }))[0]!.id)).data).equals(
        bytesOf(copy),
      ),
    ).toBe(true);
    await r.close();
  });

  it('rejects malformed snapshots and use after close with clear messages, storing nothing', async () => {
    const db = await backend.fresh();
    const store = openStore(db);
    const s = snapshot();
    await expect(store.write({ ...s, shape: [2, 2, 2] })).rejects.toThrow(
      /has 84 values but shape \[2, 2, 2\] needs 8/,
    );
    await expect(store.write({ ...s, kind: 'grad' as never })).rejects.toThrow(
      /snapshot.kind must be one of/,
    );
    await expect(store.write({ ...s, dims: ['sample'] })).rejects.toThrow(/must name each of the 3 axes/);
    await expect(store.write({ ...s, channelParts: ['a', 'b', 'c'] })).rejects.toThrow(
      /splitting the last axis \(4\) evenly/,
    );
    await expect(store.write({ ...s, data: [1, 2] as never })).rejects.toThrow(/must be a Float32Array/);
    await expect(store.endRun('run-1', 'done' as never)).rejects.toThrow(/status must be one of/);
    await expect(store.endRun('ghost', 'finished')).rejects.toThrow(/cannot end run ghost: no such run/);
    await store.close();
    await expect(store.write(s)).rejects.toMatchObject({ code: 'ECLOSED' });
    const r = openRunReader(db);
    expect(await r.listRuns()).toEqual([]);
    await r.close();
  });

  it('durable mode resolves write() only after the commit', async () => {
    const db = await backend.fresh();
    const store = openStore(db, { durable: true });
    const r = openRunReader(db);
    for (let i = 0; i < 5; i++) {
      await store.write(snapshot({ iteration: i }));
      expect((await r.listSnapshots({ run: 'run-1' })).length).toBe(i + 1);
    }
    await store.close();
    await r.close();
  });
});

describe('openStore option checks', () => {
  it('rejects bad options with the name and value', () => {
    expect(() => openStore(join(dir, 'o.gradscope'), { maxQueueBytes: -1 })).toThrow(
      'maxQueueBytes must be a positive integer, got -1',
    );
    expect(() => openStore(join(dir, 'o.gradscope'), { maxPageCount: 1.5 })).toThrow(StoreError);
    expect(() => openStore(join(dir, 'o.gradscope'), { synchronous: 'off' as never })).toThrow(
      `synchronous must be 'normal' or 'full', got "off"`,
    );
  });

  it('refuses an unknown option, naming it and the closest one, before creating the file', () => {
    const file = join(dir, 'u.gradscope');
    const attempt = () => openStore(file, { durabel: true } as never);
    expect(attempt).toThrow(StoreError);
    expect(attempt).toThrow("unknown option 'durabel' for openStore; did you mean 'durable'?");
    expect(() => openStore(file, { busyTimeout: 5 } as never)).toThrow(
      "unknown option 'busyTimeout' for openStore; did you mean 'busyTimeoutMs'?",
    );
    expect(existsSync(file)).toBe(false);
  });
});

describe('commit grouping', () => {
  /** SQLite's file change counter (header offset 24, big-endian): +1 per committed write transaction. */
  function commits(db: string): number {
    return readFileSync(db).readUInt32BE(24);
  }

  it('writes nobody waits for are committed in groups (at most one commit per 50 ms); each durable write commits at once, alone', async () => {
    const db = join(dir, 'g.gradscope');
    const store = openStore(db);
    await store.startRun(runInfo('a', 'run a'));
    const before = commits(db);
    // A trainer writing one snapshot every 2 ms or more, for 200 writes.
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) {
      await store.write(snapshot({ run: 'a', iteration: i }));
      await new Promise((r) => setTimeout(r, 2));
    }
    await store.flush();
    const grouped = commits(db) - before;
    // At most one commit per 50 ms of writing (and one for the flush), not one per snapshot.
    expect(grouped).toBeGreaterThanOrEqual(2);
    expect(grouped).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 50) + 2);
    expect(grouped).toBeLessThan(100);
    await store.close();

    const durable = openStore(db, { durable: true });
    const start = commits(db);
    for (let i = 200; i < 220; i++) await durable.write(snapshot({ run: 'a', iteration: i }));
    // Each durable write resolved after its own commit (a heartbeat may add one).
    const alone = commits(db) - start;
    expect(alone).toBeGreaterThanOrEqual(20);
    expect(alone).toBeLessThanOrEqual(22);
    await durable.close();
    const r = openReader(db);
    expect(r.listRuns()[0]!.snapshots).toBe(220);
    r.close();
  });
});
