// Scalars over HTTP (POST and the downsampled GET), the columnar series index, and run management
// (rename, delete) with and without a token. Real servers on loopback over real store files.
import { decodeMatrix, type EncodedMatrix, type ScalarPoint } from '@gradscope/format';
import { openReader } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer } from './index.js';
import { type Fixture, N, RUN, request, snapshot, storeWith, T } from './test-util/fixture.js';

const TOKEN = 'management-token-1';
const json = { 'content-type': 'application/json' };
const values = (m: EncodedMatrix) => Array.from(decodeMatrix(m));

/** A loss that falls as 1/√i, with one spike at 537 and one dip at 800; an accuracy that rises. */
function points(): ScalarPoint[] {
  const out: ScalarPoint[] = [];
  for (let i = 1; i <= 1000; i++) {
    const loss = i === 537 ? 50 : i === 800 ? -3 : 1 / Math.sqrt(i);
    out.push({ iteration: i, name: 'loss', value: loss, time: 1_700_000_000_000 + i });
    out.push({ iteration: i, name: 'acc', value: i / 1000, time: 1_700_000_000_000 + i });
  }
  return out;
}

let fx: Fixture;
let open: RunningServer;
let guarded: RunningServer;

beforeAll(async () => {
  fx = await storeWith([20, 200, 400, 600]);
  await fx.store.startRun({ ...RUN, id: 'other', name: 'other-run' });
  await fx.store.write(snapshot(20, 'other'));
  await fx.store.flush();
  await fx.store.close();
  open = await buildServer({ db: fx.db, port: 0 });
  guarded = await buildServer({ db: fx.db, port: 0, token: TOKEN });
});

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await fx?.cleanup().catch(() => {});
});

describe('scalars', () => {
  it('POST /api/runs/:run/scalars stores every point; GET returns them as float64 columns', async () => {
    const all = points();
    for (let i = 0; i < all.length; i += 1000) {
      const res = await request(`${open.url}/api/runs/${RUN.id}/scalars`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ points: all.slice(i, i + 1000) }),
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ ok: true });
    }
    const res = await request(`${open.url}/api/runs/${RUN.name}/scalars?maxPoints=100000`);
    expect(res.status).toBe(200);
    expect(res.body.series.map((s: { name: string }) => s.name)).toEqual(['acc', 'loss']);
    const loss = res.body.series[1];
    expect(loss.count).toBe(1000);
    expect(loss.iterations.dtype).toBe('float64');
    expect(values(loss.iterations)).toEqual(all.filter((p) => p.name === 'loss').map((p) => p.iteration));
    expect(values(loss.values)).toEqual(all.filter((p) => p.name === 'loss').map((p) => p.value));
    // When each point was recorded: the viewer's wall-time axis.
    expect(values(loss.times)).toEqual(all.filter((p) => p.name === 'loss').map((p) => p.time));
  });

  it('?maxPoints=N keeps at most N points per series, the first, the last, the spike and the dip', async () => {
    const res = await request(`${open.url}/api/runs/${RUN.id}/scalars?maxPoints=40`);
    const loss = res.body.series.find((s: { name: string }) => s.name === 'loss');
    expect(loss.count).toBe(1000);
    const its = values(loss.iterations);
    const vals = values(loss.values);
    expect(its.length).toBeLessThanOrEqual(40);
    expect(its.length).toBeGreaterThan(10);
    expect(its[0]).toBe(1);
    expect(its.at(-1)).toBe(1000);
    expect(its).toEqual([...its].sort((a, b) => a - b));
    expect(vals[its.indexOf(537)]).toBe(50);
    expect(vals[its.indexOf(800)]).toBe(-3);
    // Every kept point is a stored one.
    for (const [k, it] of its.entries())
      expect(vals[k]).toBe(it === 537 ? 50 : it === 800 ? -3 : 1 / Math.sqrt(it));
  });

  it('a NaN value travels as null in the POST and as NaN in the float64 column', async () => {
    const res = await request(`${open.url}/api/runs/${RUN.id}/scalars`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ points: [{ iteration: 1001, name: 'diverged', value: null, time: 1 }] }),
    });
    expect(res.status).toBe(201);
    const got = await request(`${open.url}/api/runs/${RUN.id}/scalars`);
    const diverged = got.body.series.find((s: { name: string }) => s.name === 'diverged');
    expect(values(diverged.iterations)).toEqual([1001]);
    expect(Number.isNaN(values(diverged.values)[0])).toBe(true);
  });

  it.each([
    [
      {
        points: Array.from({ length: 10_001 }, (_, i) => ({ iteration: i, name: 'loss', value: 1, time: 1 })),
      },
      'must NOT have more than 10000 items',
    ],
    [{ points: [{ iteration: -1, name: 'loss', value: 1, time: 1 }] }, 'must be >= 0'],
    [{ points: [{ iteration: 1, name: '', value: 1, time: 1 }] }, 'must NOT have fewer than 1 characters'],
    [{ points: [{ iteration: 1, name: 'loss', value: 'x', time: 1 }] }, 'must be number,null'],
    [{}, "must have required property 'points'"],
  ])('a bad scalars body is 400 (%#)', async (body, message) => {
    const res = await request(`${open.url}/api/runs/${RUN.id}/scalars`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain(message);
  });

  it('?maxPoints below 4 is 400; an unknown run is 404', async () => {
    expect((await request(`${open.url}/api/runs/${RUN.id}/scalars?maxPoints=3`)).status).toBe(400);
    expect((await request(`${open.url}/api/runs/nope/scalars`)).status).toBe(404);
  });

  it('with a token, posting scalars needs it', async () => {
    const body = JSON.stringify({ points: [{ iteration: 1, name: 'guarded', value: 1, time: 1 }] });
    const url = `${guarded.url}/api/runs/${RUN.id}/scalars`;
    expect((await request(url, { method: 'POST', headers: json, body })).status).toBe(401);
    const ok = await request(url, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${TOKEN}` },
      body,
    });
    expect(ok.status).toBe(201);
  });
});

describe('GET /api/runs/:run/series: the columnar, bounded snapshot index', () => {
  it('one float64 column per field, values as stored', async () => {
    const res = await request(`${open.url}/api/runs/${RUN.id}/series?layer=lstm_1&kind=output-grad`);
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(4);
    expect(res.body.rows).toBe(4);
    expect(values(res.body.iterations)).toEqual([20, 200, 400, 600]);
    const index = (await request(`${open.url}/api/runs/${RUN.id}/snapshots?layer=lstm_1&kind=output-grad`))
      .body;
    expect(values(res.body.ids)).toEqual(index.map((s: { id: number }) => s.id));
    const l2 = values(res.body.l2);
    const loss = values(res.body.loss);
    [20, 200, 400, 600].forEach((it, i) => {
      expect(l2[i]).toBeCloseTo(Math.hypot(...snapshot(it).data), 5);
      expect(loss[i]).toBeCloseTo(1 / it, 12);
    });
    // The gradient grows with t (2^(t-T)), so the horizon, the first timestep ≥ 1% of the largest, is t = 0.
    expect(values(res.body.horizon)).toEqual([0, 0, 0, 0]);
    const t0 = Math.sqrt(N * 14) * 2 ** -T; // norm at t=0 over channels 1,2,3 and both samples, per unit scale
    const tMax = Math.sqrt(N * 14) * 2 ** -1;
    for (const r of values(res.body.t0Ratio)) expect(r).toBeCloseTo(t0 / tMax, 5);
  });

  it('?max=2 keeps the first and the last row', async () => {
    const res = await request(`${open.url}/api/runs/${RUN.id}/series?layer=lstm_1&kind=output-grad&max=2`);
    expect(res.body.count).toBe(4);
    expect(values(res.body.iterations)).toEqual([20, 600]);
  });
});

describe('run management', () => {
  it('without a token: PATCH renames, DELETE removes the run and only it', async () => {
    const renamed = await request(`${open.url}/api/runs/other-run`, {
      method: 'PATCH',
      headers: json,
      body: JSON.stringify({ name: 'renamed-run' }),
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({ ok: true });
    expect((await request(`${open.url}/api/runs/renamed-run`)).body).toMatchObject({
      id: 'other',
      snapshots: 1,
    });
    expect((await request(`${open.url}/api/runs/other-run`)).status).toBe(404);

    const deleted = await request(`${open.url}/api/runs/renamed-run`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect((await request(`${open.url}/api/runs/other`)).status).toBe(404);
    expect((await request(`${open.url}/api/runs`)).body.map((r: { id: string }) => r.id)).toEqual([RUN.id]);
    expect((await request(`${open.url}/api/runs/${RUN.id}`)).body.snapshots).toBe(4);
    expect((await request(`${open.url}/api/runs/other`, { method: 'DELETE' })).status).toBe(404);
    const reader = openReader(fx.db);
    try {
      expect(reader.integrityCheck()).toBe('ok');
    } finally {
      reader.close();
    }
  });

  it('bad rename bodies are 400', async () => {
    for (const body of ['{}', '{"name":""}', JSON.stringify({ name: 'x'.repeat(513) })]) {
      const res = await request(`${open.url}/api/runs/${RUN.id}`, { method: 'PATCH', headers: json, body });
      expect(res.status).toBe(400);
    }
  });

  it('PATCH sets the group and params (the token required); GET /api/runs/:run and /api/runs return them', async () => {
    const auth = { authorization: `Bearer ${TOKEN}`, ...json };
    const patch = (body: unknown, headers: Record<string, string> = auth) =>
      request(`${guarded.url}/api/runs/${RUN.name}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify(body),
      });
    const run = async () => (await request(`${guarded.url}/api/runs/${RUN.id}`, { headers: auth })).body;
    expect(await run()).toMatchObject({ group: null, params: {} });
    expect((await patch({ group: 'g1', params: { seed: 1 } }, json)).status).toBe(401);
    expect(await run()).toMatchObject({ group: null, params: {} });

    const res = await patch({ group: 'lstm-lr0.005', params: { seed: 1, lr: 0.005, task: { lag: 40 } } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(await run()).toMatchObject({
      name: RUN.name,
      group: 'lstm-lr0.005',
      params: { seed: 1, lr: 0.005, task: { lag: 40 } },
    });
    expect((await patch({ params: { seed: 2, task: null } })).status).toBe(200);
    const list = (await request(`${guarded.url}/api/runs`, { headers: auth })).body;
    expect(list.find((r: { id: string }) => r.id === RUN.id)).toMatchObject({
      group: 'lstm-lr0.005',
      params: { seed: 2, lr: 0.005 },
    });
    expect(list.find((r: { id: string }) => r.id === RUN.id).params).not.toHaveProperty('task');

    // Bad values are 400 naming what was expected, and change nothing (not even a name sent with them).
    for (const [body, message] of [
      [{ group: '  ', name: 'never' }, 'group must be a non-empty string'],
      [{ params: [1] }, 'body/params must be object'],
      [{ group: { a: 1 } }, 'body/group'],
      [{ grup: 'x' }, 'PATCH /api/runs/:run needs a name, group or params'],
      [{}, 'body must NOT have fewer than 1 properties'],
    ] as const) {
      const bad = await patch(body);
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain(message);
    }
    expect(await run()).toMatchObject({
      name: RUN.name,
      group: 'lstm-lr0.005',
      params: { seed: 2, lr: 0.005 },
    });
    expect((await patch({ group: null })).status).toBe(200);
    expect((await run()).group).toBeNull();
  });

  it('with a token: PATCH and DELETE need it, and change nothing without it', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const patch = (headers: Record<string, string>) =>
      request(`${guarded.url}/api/runs/${RUN.id}`, {
        method: 'PATCH',
        headers: { ...json, ...headers },
        body: JSON.stringify({ name: 'guarded-name' }),
      });
    expect((await patch({})).status).toBe(401);
    expect((await patch({ authorization: 'Bearer wrong-token-99' })).status).toBe(401);
    expect((await request(`${guarded.url}/api/runs/${RUN.id}`, { headers: auth })).body.name).toBe(RUN.name);
    expect((await patch(auth)).status).toBe(200);
    expect((await request(`${guarded.url}/api/runs/${RUN.id}`, { headers: auth })).body.name).toBe(
      'guarded-name',
    );

    expect((await request(`${guarded.url}/api/runs/${RUN.id}`, { method: 'DELETE' })).status).toBe(401);
    expect((await request(`${guarded.url}/api/runs/${RUN.id}`, { headers: auth })).status).toBe(200);
    expect(
      (await request(`${guarded.url}/api/runs/${RUN.id}`, { method: 'DELETE', headers: auth })).status,
    ).toBe(200);
    expect((await request(`${guarded.url}/api/runs`, { headers: auth })).body).toEqual([]);
  });

  it('a server without a writable store says so (405)', async () => {
    const readOnly = await buildServer({ db: fx.db, port: 0, ingest: false });
    try {
      const res = await request(`${readOnly.url}/api/runs/x`, { method: 'DELETE' });
      expect(res.status).toBe(405);
      expect(res.body.message).toContain('no writable store');
    } finally {
      await readOnly.close();
    }
  });
});
