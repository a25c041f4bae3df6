// GET /api/runs/:run/diagnosis on a real server over a real store file: the doctor's JSON for one run.
import { diagnoseReader, openReader } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer } from './index.js';
import { type Fixture, RUN, request, snapshot, storeWith } from './test-util/fixture.js';

let fx: Fixture;
let server: RunningServer;
const ITERATIONS = [20, 200, 400, 600];

beforeAll(async () => {
  fx = await storeWith([]);
  // The fixture's gradient halves at every step back (0.3 decades a step); the loss is 1 / iteration.
  for (const i of ITERATIONS) await fx.store.write(snapshot(i, RUN.id, { kind: 'jacobian' }));
  await fx.store.writeScalars(RUN.id, [{ iteration: 0, name: 'probe/baseline', value: 0.5, time: 1 }]);
  await fx.store.flush();
  server = await buildServer({ db: fx.db, port: 0 });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup().catch(() => {});
});

describe('GET /api/runs/:run/diagnosis', () => {
  it('answers the verdict, causes and evidence of every recurrent layer, as the doctor computes them', async () => {
    const res = await request(`${server.url}/api/runs/${RUN.name}/diagnosis`);
    expect(res.status).toBe(200);
    const [run] = res.body.runs;
    expect(run).toMatchObject({ id: RUN.id, name: RUN.name });
    const [layer] = run.layers;
    // Learned (1/600 ÷ 0.5); with the jacobian alone, long needs 0.15 of its peak beyond T/2: the fixture keeps
    // 2^-3 = 0.125 there (T = 5), so short.
    expect(layer).toMatchObject({
      layer: 'lstm_1',
      layerClass: 'LSTM',
      verdict: 'learning-short',
      causes: [],
    });
    expect(layer.evidence.reach[0].farRatio).toBeCloseTo(2 ** -3, 4);
    expect(layer.evidence.lossRatio).toBeCloseTo(1 / 600 / 0.5, 6);
    expect(layer.evidence.baselineMethod).toBe('constant-predictor');
    expect(layer.evidence.reach[0].decadesPerStep).toBeCloseTo(Math.log10(2), 4);
    expect(layer.iterations.map((i: { iteration: number }) => i.iteration)).toEqual(ITERATIONS);
    const reader = openReader(fx.db);
    try {
      expect(res.body).toEqual(JSON.parse(JSON.stringify(await diagnoseReader(reader, [RUN.id]))));
    } finally {
      reader.close();
    }
  });

  it('404 naming the run when there is none', async () => {
    const res = await request(`${server.url}/api/runs/nope/diagnosis`);
    expect(res.status).toBe(404);
    expect(res.body.message).toBe("no run with id or name 'nope'");
  });
});
