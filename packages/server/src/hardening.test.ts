// Bad inputs a hostile or unlucky client sends (issue 13): non-finite numbers, out-of-range integers,
// malformed cookies, long names, foreign Host headers, ingest floods, cross-origin pages, and what an
// error tells a client. Real servers on loopback, real store files.
import { request as httpRequest } from 'node:http';
import { encodeSnapshot } from '@gradscope/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildServer,
  DEFAULT_INGEST_INFLIGHT_BYTES,
  DEFAULT_INGEST_LIMIT,
  type RunningServer,
} from './index.js';
import { type Fixture, RUN, rawRequest, request, snapshot, storeWith } from './test-util/fixture.js';

const ARROW = { 'content-type': 'application/vnd.apache.arrow.stream' };
const TOKEN = 'hardening-token-1';
let fx: Fixture;
let server: RunningServer;
let guarded: RunningServer;

beforeAll(async () => {
  fx = await storeWith([20, 200]);
  // A diverging run: NaN loss, a tensor of NaN and Infinity, a second snapshot with an infinite loss.
  const data = new Float32Array(30).fill(Number.NaN);
  data[3] = Number.POSITIVE_INFINITY;
  await fx.store.startRun({ ...RUN, id: 'nan-run', name: 'diverged' });
  await fx.store.write(snapshot(1, 'nan-run', { data, loss: Number.NaN, nonFinite: 30 }));
  await fx.store.write(snapshot(2, 'nan-run', { loss: Number.POSITIVE_INFINITY }));
  await fx.store.flush();
  server = await buildServer({ db: fx.db, port: 0, allowedHosts: ['gradscope.test', '.example.org'] });
  guarded = await buildServer({ db: fx.db, port: 0, token: TOKEN, cors: ['http://trainer.test'] });
});

afterAll(async () => {
  await server?.close();
  await guarded?.close();
  await fx?.cleanup();
});

describe('non-finite numbers travel as null on every JSON route', () => {
  it.each([
    '/api/runs',
    '/api/runs/diverged',
    '/api/runs/diverged/layers',
    '/api/runs/diverged/snapshots',
    '/api/runs/diverged/flow?layer=lstm_1&kind=output-grad',
    '/api/runs/diverged/histograms?layer=lstm_1&kind=output-grad',
  ])('GET %s → 200', async (path) => {
    const res = await request(server.url + path);
    expect(res.status).toBe(200);
    expect(res.body).toBeDefined();
    expect(res.text).not.toMatch(/NaN|Infinity/);
  });

  it('the NaN snapshot: loss and statistics null, the finite ones kept', async () => {
    const index = await request(`${server.url}/api/runs/diverged/snapshots`);
    expect(index.body.map((s: { loss: number | null }) => s.loss)).toEqual([null, null]);
    const [nan, inf] = index.body;
    expect(nan.nonFinite).toBe(30);
    expect(nan.summary.count).toBe(30);
    expect(inf.summary.l2).toBeCloseTo(Math.hypot(...snapshot(2).data), 5);
    for (const id of [nan.id, inf.id]) {
      const one = await request(`${server.url}/api/snapshots/${id}`);
      expect(one.status).toBe(200);
      expect(one.body.loss).toBeNull();
      const summary = await request(`${server.url}/api/snapshots/${id}/summary`);
      expect(summary.status).toBe(200);
      expect(summary.text).not.toMatch(/NaN|Infinity/);
    }
  });
});

describe('out-of-range and malformed parameters are 4xx', () => {
  it.each([
    '/api/runs/run-1/snapshots?limit=99999999999999999999',
    '/api/runs/run-1/snapshots?offset=99999999999999999999',
    '/api/runs/run-1/snapshots?from=1e300',
    '/api/runs/run-1/snapshots?to=9007199254740993',
    '/api/snapshots/99999999999999999999',
    '/api/runs/run-1/export?iterations=99999999999999999999',
  ])('GET %s → 400 with a message and no server path', async (path) => {
    const res = await request(server.url + path);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/must be|must match/);
    expect(res.text).not.toContain(fx.dir);
  });

  it('a malformed gradscope_token cookie is 401, not 500; the right one still opens', async () => {
    for (const cookie of ['gradscope_token=%E0%A4%A', 'gradscope_token=%', 'gradscope_token', '=;;=']) {
      const res = await request(`${guarded.url}/api/runs`, { headers: { cookie } });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('Unauthorized');
    }
    const ok = await request(`${guarded.url}/api/runs`, {
      headers: { cookie: `other=%E0%A4%A; gradscope_token=${TOKEN}` },
    });
    expect(ok.status).toBe(200);
  });

  it('run names up to 512 characters work in URLs (no 414), percent-encoded ones too', async () => {
    for (const name of ['r'.repeat(512), 'é'.repeat(512)]) {
      const id = `long-${name.length}-${name.charCodeAt(0)}`;
      const start = await request(`${server.url}/api/ingest/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...RUN, id, name }),
      });
      expect(start.status).toBe(201);
      const res = await request(`${server.url}/api/runs/${encodeURIComponent(name)}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, name });
      expect((await request(`${server.url}/api/runs/${encodeURIComponent(name)}/layers`)).body).toEqual([]);
    }
    const tooLong = await request(`${server.url}/api/runs/${'r'.repeat(513)}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toContain('must NOT have more than 512 characters');
  });

  it('ingest refuses a 1 MB layer name with a clear 400 and stores nothing', async () => {
    const res = await request(`${server.url}/api/ingest`, {
      method: 'POST',
      headers: ARROW,
      body: encodeSnapshot(snapshot(20, RUN.id, { layer: 'x'.repeat(1_000_000) })),
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain(
      'snapshot.layer is 1000000 characters long: names are at most 512 characters',
    );
    expect((await server.reader.listLayers(RUN.id)).map((l) => l.layer)).toEqual(['lstm_1']);
  });
});

describe('DNS rebinding: the Host header must name this server', () => {
  const port = () => new URL(server.url).port;

  it.each([
    'evil.example',
    'evil.example:80',
    'localhost.evil.example',
    '127.0.0.1.evil.example',
    'example.org.evil',
  ])('Host: %s → 403 on reads and on ingest, nothing stored', async (host) => {
    const read = await rawRequest(`${server.url}/api/runs`, { headers: { host } });
    expect(read.status).toBe(403);
    expect(JSON.parse(read.text)).toMatchObject({ error: 'Forbidden' });
    const write = await rawRequest(`${server.url}/api/ingest/runs`, {
      method: 'POST',
      headers: { host, 'content-type': 'application/json' },
      body: JSON.stringify({ ...RUN, id: 'rebound', name: 'rebound' }),
    });
    expect(write.status).toBe(403);
    expect(await server.reader.getRun('rebound')).toBeUndefined();
  });

  it.each([
    () => `127.0.0.1:${port()}`,
    () => `localhost:${port()}`,
    () => `LOCALHOST:${port()}`,
    () => 'app.localhost',
    () => '[::1]:6006',
    () => `gradscope.test:${port()}`,
    () => 'a.example.org',
    () => 'example.org',
  ])('an allowed Host → 200 (%#)', async (host) => {
    const res = await rawRequest(`${server.url}/api/runs`, { headers: { host: host() } });
    expect(res.status).toBe(200);
  });

  it('refuses an allowedHosts entry with a scheme or port', async () => {
    await expect(buildServer({ db: fx.db, port: 0, allowedHosts: ['http://x.test'] })).rejects.toThrow(
      '"allowedHosts" option must hold host names without scheme or port',
    );
  });
});

describe('ingest memory bounds', () => {
  it('defaults: one body up to 64 MiB, 64 MiB of bodies at once', () => {
    expect(DEFAULT_INGEST_LIMIT).toBe(64 * 2 ** 20);
    expect(DEFAULT_INGEST_INFLIGHT_BYTES).toBe(64 * 2 ** 20);
  });

  it('beyond the bytes in flight: 503 with Retry-After; once they drain, ingest works again', async () => {
    const small = await buildServer({
      db: fx.db,
      port: 0,
      ingestLimit: 64 * 1024,
      ingestInflightBytes: 100 * 1024,
    });
    try {
      // A trainer that declared 60 KiB and has sent only 10 bytes so far.
      const slow = httpRequest(`${small.url}/api/ingest`, {
        method: 'POST',
        headers: { ...ARROW, 'content-length': String(60 * 1024) },
      });
      const slowDone = new Promise<number>((resolve, reject) => {
        slow.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        slow.on('error', reject);
      });
      slow.write(Buffer.alloc(10));
      await new Promise((r) => setTimeout(r, 100));
      const refused = await request(`${small.url}/api/ingest`, {
        method: 'POST',
        headers: ARROW,
        body: new Uint8Array(60 * 1024),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body.message).toContain('retry shortly');
      slow.end(Buffer.alloc(60 * 1024 - 10));
      expect(await slowDone).toBe(400); // zeros are no Arrow stream
      const ok = await request(`${small.url}/api/ingest`, {
        method: 'POST',
        headers: ARROW,
        body: encodeSnapshot(snapshot(800)),
      });
      expect(ok.status).toBe(201);
      expect((await small.reader.listSnapshots({ run: RUN.id })).map((s) => s.iteration)).toEqual([
        20, 200, 800,
      ]);
    } finally {
      await small.close();
    }
  });
});

describe('CORS: opt-in, exact origins', () => {
  const preflight = (origin: string) =>
    fetch(`${guarded.url}/api/ingest`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });

  it('a listed origin gets its preflight answered without the token, and the real request allowed', async () => {
    const pre = await preflight('http://trainer.test');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://trainer.test');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    const res = await fetch(`${guarded.url}/api/runs`, {
      headers: { origin: 'http://trainer.test', authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://trainer.test');
    const unauthorized = await fetch(`${guarded.url}/api/runs`, {
      headers: { origin: 'http://trainer.test' },
    });
    expect(unauthorized.status).toBe(401);
  });

  it('another origin gets no CORS headers', async () => {
    const pre = await preflight('http://evil.test');
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await fetch(`${guarded.url}/api/runs`, {
      headers: { origin: 'http://evil.test', authorization: `Bearer ${TOKEN}` },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it.each([
    [['*'], '"cors" option must list exact origins: "*" would let every website read this server'],
    [['http://trainer.test/'], '"cors" option must hold origins such as'],
    [['trainer.test'], '"cors" option must hold origins such as'],
  ])('refuses cors %j', async (cors, message) => {
    await expect(buildServer({ db: fx.db, port: 0, token: TOKEN, cors })).rejects.toThrow(message);
  });
});

describe('errors shown to clients', () => {
  it('a server-side failure says so without a path or a stack', async () => {
    const broken = await buildServer({ db: fx.db, port: 0, ingest: false });
    try {
      await broken.reader.close();
      const res = await request(`${broken.url}/api/runs/run-1/snapshots`);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        error: 'Internal Server Error',
        message: 'the server failed to answer this request (the details are in its log)',
        requestId: expect.any(String),
      });
    } finally {
      await broken.close().catch(() => {});
    }
  });

  it('a 404 from the store names the run, not the file', async () => {
    const res = await request(`${server.url}/api/runs/run-1/flow?layer=nope&kind=output-grad`);
    expect(res.status).toBe(404);
    expect(res.text).not.toContain(fx.dir);
    expect(res.body.message).toContain('nope');
  });
});

describe('buildServer: --host values are checked, not looked up', () => {
  it("'[::1]' binds the IPv6 loopback and answers there", async () => {
    const v6 = await buildServer({ db: fx.db, port: 0, host: '[::1]', ingest: false });
    try {
      expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const res = await request(`${v6.url}/api/health`);
      expect(res.body).toEqual({ ok: true });
    } finally {
      await v6.close();
    }
  });

  it.each([
    ['256.1.1.1', '--host 256.1.1.1 is not an IPv4 address (four numbers 0-255, such as 127.0.0.1)'],
    ['[127.0.0.1]', '--host [127.0.0.1] is not an IPv6 address in brackets'],
    ['', '--host must be a host name or an IP address, got ""'],
  ])('--host %j → ServerError', async (host, message) => {
    await expect(buildServer({ db: fx.db, port: 0, host, ingest: false })).rejects.toThrow(message);
  });

  it('a port in use is a ServerError with its code', async () => {
    const port = Number(new URL(server.url).port);
    await expect(buildServer({ db: fx.db, port, ingest: false })).rejects.toMatchObject({
      name: 'ServerError',
      code: 'EADDRINUSE',
      message: `port ${port} on 127.0.0.1 is already in use: pick another with --port`,
    });
  });
});
