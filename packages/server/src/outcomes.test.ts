// GET /api/outcomes on a real server over a real store file: every run's record with the verdict of each
// recurrent layer, equal to the store's own diagnosis of that run; each run diagnosed again only when it changes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decisiveReach, type OutcomesResponse } from '@gradscope/format';
import { diagnoseReader, openReader, openStore, type Reader, type Store } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepRun, writeSweep } from '../../../scripts/bench/lib/sweep.mjs';
import { buildServer, type RunningServer } from './index.js';
import { OutcomeCache } from './routes/outcomes.js';
import { request } from './test-util/fixture.js';

const RUNS = 40;
let dir: string;
let db: string;
let store: Store;
let server: RunningServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-outcomes-'));
  db = join(dir, 'runs.gradscope');
  store = await openStore(db);
  await writeSweep(store, RUNS, { running: 1 });
  server = await buildServer({ db, port: 0, ingest: false });
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/outcomes', () => {
  it("answers every run with its group, params and each layer's verdict as the store diagnoses it", async () => {
    const res = await request(`${server.url}/api/outcomes`);
    expect(res.status).toBe(200);
    const body = res.body as OutcomesResponse;
    expect(body.runs).toHaveLength(RUNS);
    const reader = openReader(db);
    try {
      const listed = await reader.listRuns();
      // The records are GET /api/runs' (newest first).
      expect(body.runs.map((r) => r.id)).toEqual(listed.map((r) => r.id));
      const report = await diagnoseReader(reader);
      for (const run of body.runs) {
        const want = sweepRun(Number(run.id.slice('sweep-'.length)));
        expect(run.group).toBe(want.group);
        expect(run.params).toEqual(want.params);
        const d = report.runs.find((r) => r.id === run.id)!;
        expect(run.verdicts).toHaveLength(1);
        const [v] = run.verdicts;
        const [l] = d.layers;
        const reach = decisiveReach(l!.evidence.reach)!;
        expect(v).toEqual({
          layer: want.layer,
          layerClass: want.cell,
          verdict: l!.verdict,
          causes: l!.causes,
          iteration: 200,
          lossRatio: l!.evidence.lossRatio,
          reachKind: 'jacobian',
          reach: reach.reach1e2,
          farRatio: reach.farRatio,
          timesteps: 20,
        });
        // Computed another way: the probe loss ÷ the baseline the sweep wrote at the last iteration.
        expect(v!.lossRatio).toBeCloseTo(want.ratioAt(200), 5);
      }
      // The sweep has every verdict but insufficient-data.
      const verdicts = new Set(body.runs.map((r) => r.verdicts[0]!.verdict));
      expect([...verdicts].sort()).toEqual(['learning-long', 'learning-short', 'not-learning']);
    } finally {
      reader.close();
    }
  });

  it('refuses a query parameter, naming it', async () => {
    const res = await request(`${server.url}/api/outcomes?sort=name`);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("GET /api/outcomes takes no query parameters, got 'sort'");
  });
});

describe('OutcomeCache', () => {
  let reader: Reader;
  beforeAll(() => {
    reader = openReader(db);
  });
  afterAll(() => reader.close());

  it('diagnoses a run again only when it has changed, and forgets deleted runs', async () => {
    const cache = new OutcomeCache(reader);
    const first = await cache.outcomes();
    expect(cache.computed).toBe(RUNS);
    await cache.outcomes();
    expect(cache.computed).toBe(RUNS);
    // The running run (the newest) records a capture at iteration 300: only it is diagnosed again.
    const live = first.runs[0]!;
    expect(live.status).not.toBe('finished');
    const r = sweepRun(Number(live.id.slice('sweep-'.length)));
    for (const kind of ['jacobian', 'input-grad'] as const)
      await store.write({
        run: live.id,
        iteration: 300,
        epoch: 0,
        batch: 300,
        layer: r.layer,
        layerClass: r.cell,
        kind,
        shape: [1, 20, 2],
        dims: ['sample', 'timestep', 'channel'],
        data: new Float32Array(40).fill(1e-2),
        loss: 0.01,
        time: r.startedAt + 300,
        nonFinite: 0,
      });
    await store.flush();
    const second = await cache.outcomes();
    expect(cache.computed).toBe(RUNS + 1);
    expect(second.runs[0]!.verdicts[0]!.iteration).toBe(300);
    // 0.01 ÷ the baseline 0.25.
    expect(second.runs[0]!.verdicts[0]!.lossRatio).toBeCloseTo(0.04, 6);
    await store.deleteRun(live.id);
    await store.flush();
    const third = await cache.outcomes();
    expect(third.runs.map((x) => x.id)).not.toContain(live.id);
    expect(cache.computed).toBe(RUNS + 1);
  });
});
