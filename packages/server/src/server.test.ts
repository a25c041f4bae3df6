// The server over a real store file, through real HTTP on loopback: every route, bad requests,
// tokens, live updates and remote ingest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunInfo, Snapshot } from '@gradscope/capture';
import { encodeTensor, SNAPSHOT_METADATA_KEY } from '@gradscope/format';
import { openStore, type Store, snapshotFromIpc } from '@gradscope/store';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer } from './index.js';

const [N, T, C] = [2, 5, 3];
const ITERATIONS = [20, 200, 400];
const RUN: RunInfo = {
  id: 'run-1',
  name: 'ex1-lstm3',
  startedAt: 1_700_000_000_000,
  model: {
    name: 'm',
    className: 'Sequential',
    layers: [],
    inputShape: [],
    outputShape: [],
    losses: ['meanSquaredError'],
  },
  options: { mode: 'probe', every: 20, capture: ['output-grad'], layers: ['lstm_1'] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'test',
  meta: { description: 'six LSTM units', tags: ['demo'] },
};

/** A gradient that decays going back in time, scaled per iteration: easy to check by hand. */
function snapshot(iteration: number, run = RUN.id): Snapshot {
  const data = new Float32Array(N * T * C);
  for (let s = 0; s < N; s++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++)
        data[(s * T + t) * C + c] = (iteration / 100) * 2 ** (t - T) * (c + 1) * (s ? -1 : 1);
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration - 1,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind: 'output-grad',
    shape: [N, T, C],
    dims: ['sample', 'timestep', 'channel'],
    data,
    loss: 1 / iteration,
    time: 1_700_000_000_000 + iteration,
    nonFinite: 0,
  };
}

function timestepNorms(data: Float32Array): number[] {
  const out = new Array(T).fill(0);
  for (let s = 0; s < N; s++)
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) out[t] += data[(s * T + t) * C + c]! ** 2;
  return out.map(Math.sqrt);
}

/** Decodes a `{ dtype, shape, base64 }` matrix of the flow and histogram routes. */
function decode(m: { dtype: string; shape: number[]; base64: string }): Float32Array | Uint32Array {
  const bytes = Buffer.from(m.base64, 'base64');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const out = m.dtype === 'float32' ? new Float32Array(buffer) : new Uint32Array(buffer);
  expect(out.length).toBe(m.shape[0]! * m.shape[1]!);
  return out;
}

/** The HTTP ingest body: one snapshot as an Arrow IPC stream with its fields in the schema metadata. */
function ingestBody(s: Snapshot): Uint8Array {
  const { data, shape, dims, ...rest } = s;
  return encodeTensor(data, shape, dims, rest as never);
}

let dir: string;
let db: string;
let writer: Store;
let server: RunningServer;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-server-'));
  db = join(dir, 'runs.gradscope');
  writer = await openStore(db);
  await writer.startRun(RUN);
  for (const i of ITERATIONS) await writer.write(snapshot(i));
  await writer.flush();
  server = await buildServer({ db, port: 0, pollMs: 50 });
  url = server.url;
});

afterAll(async () => {
  await server?.close();
  await writer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(url + path, init);
const json = async (path: string) => {
  const res = await get(path);
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
  return { status: res.status, body: (await res.json()) as any };
};

describe('read routes', () => {
  it('GET /api/runs lists runs with ids and counts', async () => {
    const { status, body } = await json('/api/runs');
    expect(status).toBe(200);
    expect(body).toHaveLength(1);
    expect(body[0]).toMatchObject({
      id: 'run-1',
      name: 'ex1-lstm3',
      snapshots: 3,
      lastIteration: 400,
      layers: ['lstm_1'],
    });
  });

  it('GET /api/runs/:run by id or name, with the model summary and options', async () => {
    for (const key of ['run-1', 'ex1-lstm3']) {
      const { status, body } = await json(`/api/runs/${key}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        id: 'run-1',
        options: { every: 20 },
        model: { losses: ['meanSquaredError'] },
      });
    }
  });

  it('GET /api/runs/:run/layers', async () => {
    const { body } = await json('/api/runs/run-1/layers');
    expect(body).toEqual([
      expect.objectContaining({
        layer: 'lstm_1',
        layerClass: 'LSTM',
        firstIteration: ITERATIONS[0],
        lastIteration: ITERATIONS.at(-1),
        iterationCount: ITERATIONS.length,
        kinds: { 'output-grad': [null] },
      }),
    ]);
  });

  it('GET /api/runs/:run/snapshots filters and carries write-time summaries', async () => {
    const { body } = await json('/api/runs/run-1/snapshots?layer=lstm_1&kind=output-grad&from=100');
    expect(body.map((s: { iteration: number }) => s.iteration)).toEqual([200, 400]);
    const l2 = Math.hypot(...snapshot(200).data);
    expect(body[0].summary.l2).toBeCloseTo(l2, 6);
    expect(body[0].shape).toEqual([N, T, C]);
  });

  it('GET /api/snapshots/:id/tensor sends the stored Arrow bytes, cacheable forever', async () => {
    const { body } = await json('/api/runs/run-1/snapshots');
    const id = body[1].id;
    const res = await get(`/api/snapshots/${id}/tensor`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    expect(res.headers.get('cache-control')).toContain('immutable');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(Array.from(snapshotFromIpc(bytes).data)).toEqual(Array.from(snapshot(200).data));
    const table = tableFromIPC(bytes);
    expect(table.schema.metadata.has(SNAPSHOT_METADATA_KEY)).toBe(true);
    const again = await get(`/api/snapshots/${id}/tensor`, {
      headers: { 'if-none-match': res.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
  });

  it('GET /api/snapshots/:id/summary has per-timestep norms', async () => {
    const { body: index } = await json('/api/runs/run-1/snapshots');
    const { body } = await json(`/api/snapshots/${index[2].id}/summary`);
    const expected = timestepNorms(snapshot(400).data);
    for (const [t, v] of (body.timestepNorms as number[]).entries()) expect(v).toBeCloseTo(expected[t]!, 5);
    expect(body.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(N * T * C);
  });

  it('GET /api/runs/:run/flow is iteration × timestep norms from the summaries', async () => {
    const { body } = await json('/api/runs/ex1-lstm3/flow?layer=lstm_1&kind=output-grad');
    expect(body.iterations).toEqual(ITERATIONS);
    expect(body.timesteps).toBe(T);
    expect(body.norms.shape).toEqual([3, T]);
    const norms = decode(body.norms);
    ITERATIONS.forEach((it, i) => {
      const expected = timestepNorms(snapshot(it).data);
      for (let t = 0; t < T; t++) expect(norms[i * T + t]).toBeCloseTo(expected[t]!, 5);
    });
    const { body: two } = await json('/api/runs/ex1-lstm3/flow?layer=lstm_1&kind=output-grad&max=2');
    expect(two.iterations).toEqual([20, 400]);
  });

  it('GET /api/runs/:run/histograms gives counts and percentiles per iteration', async () => {
    const { body } = await json('/api/runs/run-1/histograms?layer=lstm_1&kind=output-grad');
    expect(body.iterations).toEqual(ITERATIONS);
    const buckets = body.edges.length - 1;
    const counts = decode(body.counts);
    expect(body.counts.shape).toEqual([3, buckets]);
    for (let i = 0; i < 3; i++)
      expect(Array.from(counts.slice(i * buckets, (i + 1) * buckets)).reduce((a, b) => a + b, 0)).toBe(
        N * T * C,
      );
    const values = decode(body.percentiles.values);
    expect(body.percentiles.values.shape).toEqual([3, body.percentiles.p.length]);
    // The median of a sample symmetric around zero (the second sample mirrors the first) lies near zero,
    // and the percentiles grow with p.
    const row = Array.from(values.slice(0, body.percentiles.p.length));
    expect(row).toEqual([...row].sort((a, b) => a - b));
  });

  it('GET /api/runs/:run/export streams the long layout as an Arrow file', async () => {
    const res = await get('/api/runs/run-1/export?format=arrow&layout=long&iterations=20,400');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="ex1-lstm3\.arrow"/);
    const table = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    expect(table.numRows).toBe(2 * N * T * C);
    const values = table.getChild('value')!.toArray() as Float32Array;
    expect(Array.from(values.slice(0, N * T * C))).toEqual(Array.from(snapshot(20).data));
  });

  it('GET /api/runs/:run/export as Parquet', async () => {
    const res = await get('/api/runs/run-1/export?format=parquet');
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe('PAR1');
    expect(new TextDecoder().decode(bytes.slice(-4))).toBe('PAR1');
  });

  it('serves a Content-Security-Policy and no CORS headers', async () => {
    const res = await get('/api/runs', { headers: { origin: 'http://evil.example' } });
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('bad requests', () => {
  it.each([
    ['/api/runs/nope', 404, "no run with id or name 'nope'"],
    ['/api/runs/..%2F..%2Fetc%2Fpasswd', 404, "no run with id or name '../../etc/passwd'"],
    ['/api/runs/nope/layers', 404, 'nope'],
    ['/api/snapshots/999999/tensor', 404, 'no snapshot with id 999999'],
    ['/api/snapshots/abc/tensor', 400, 'params/id must be integer'],
    ['/api/snapshots/-1/summary', 400, 'params/id must be >= 1'],
    ['/api/runs/run-1/snapshots?from=ten', 400, 'querystring/from must be integer'],
    [
      '/api/runs/run-1/snapshots?kind=grads',
      400,
      'querystring/kind must be equal to one of the allowed values',
    ],
    ['/api/runs/run-1/flow?layer=lstm_1', 400, "querystring must have required property 'kind'"],
    ['/api/runs/run-1/flow?layer=nope&kind=output-grad', 404, 'nope'],
    ['/api/runs/run-1/export?iterations=1,x', 400, 'querystring/iterations must match pattern'],
    ['/api/runs/run-1/export?layer=nope', 404, 'no snapshot matching'],
  ])('GET %s → %i', async (path, status, message) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { message: string };
    expect(body.message).toContain(message);
  });
});

describe('live updates and ingest', () => {
  it('SSE announces a snapshot written after the client connected', async () => {
    const controller = new AbortController();
    const res = await get('/api/events?run=ex1-lstm3', { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const first = await reader.read();
    text += new TextDecoder().decode(first.value);
    expect(text).toContain(': connected');
    await writer.write(snapshot(600));
    await writer.flush();
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(text.split('event: snapshot\ndata: ')[1]!.split('\n')[0]!);
    expect(data).toMatchObject({ run: 'run-1', layer: 'lstm_1', kind: 'output-grad', iteration: 600 });
    controller.abort();
  });

  it('POST /api/ingest stores an Arrow snapshot; a run can be started and ended over HTTP', async () => {
    const remote = { ...RUN, id: 'remote-1', name: 'from-afar' };
    let res = await get('/api/ingest/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(remote),
    });
    expect(res.status).toBe(201);
    res = await get('/api/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
      body: ingestBody(snapshot(20, 'remote-1')),
    });
    expect(res.status).toBe(201);
    res = await get('/api/ingest/runs/remote-1/end', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"status":"finished"}',
    });
    expect(res.status).toBe(200);
    const { body } = await json('/api/runs/from-afar');
    expect(body).toMatchObject({ status: 'finished', snapshots: 1 });
  });

  it('a malformed or oversized ingest body is refused and stores nothing', async () => {
    const before = ((await json('/api/runs')).body as { snapshots: number }[]).reduce(
      (a, r) => a + r.snapshots,
      0,
    );
    let res = await get('/api/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
      body: new Uint8Array([1, 2, 3, 4, 5]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/request body/);
    res = await get('/api/ingest', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(415);
    const small = await buildServer({ db, port: 0, ingestLimit: 100 });
    try {
      res = await fetch(`${small.url}/api/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
        body: ingestBody(snapshot(20)),
      });
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
    const after = ((await json('/api/runs')).body as { snapshots: number }[]).reduce(
      (a, r) => a + r.snapshots,
      0,
    );
    expect(after).toBe(before);
  });
});

describe('safe by default', () => {
  it('refuses a non-loopback host without a token', async () => {
    await expect(buildServer({ db, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      '--host 0.0.0.0 would expose the server beyond this machine: set a token (--token or GRADSCOPE_TOKEN) to allow it',
    );
  });

  it('with a token, every route wants it: header, or ?token= once then the cookie', async () => {
    const token = 'correct-horse-battery';
    const guarded = await buildServer({ db, port: 0, token });
    try {
      const at = (path: string, init?: RequestInit) => fetch(guarded.url + path, init);
      for (const path of ['/api/runs', '/api/events', '/', '/api/snapshots/1/tensor']) {
        expect((await at(path)).status).toBe(401);
      }
      expect((await at('/api/runs', { headers: { authorization: 'Bearer wrong-token-123' } })).status).toBe(
        401,
      );
      expect((await at('/api/runs', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      const viaQuery = await at(`/api/runs?token=${token}`);
      expect(viaQuery.status).toBe(200);
      const cookie = viaQuery.headers.get('set-cookie')!.split(';')[0]!;
      expect(cookie).toBe(`gradscope_token=${token}`);
      expect((await at('/api/runs', { headers: { cookie } })).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
