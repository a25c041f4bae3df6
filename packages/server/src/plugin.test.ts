// The plugin inside someone else's Fastify app, under a prefix: its routes work there with the token, and
// none of its hooks (Host check, token, CSP, error handler, response cache) reach the host's own routes.
import { encodeSnapshot } from '@gradscope/format';
import { openReader, type Reader } from '@gradscope/store';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradscopePlugin, MAX_PARAM_LENGTH } from './index.js';
import { type Fixture, RUN, rawRequest, request, snapshot, storeWith } from './test-util/fixture.js';

const TOKEN = 'host-app-token-123';
let fx: Fixture;
let reader: Reader;
let host: FastifyInstance;
let url: string;

beforeAll(async () => {
  fx = await storeWith([20, 200]);
  reader = openReader(fx.db);
  host = Fastify({ routerOptions: { maxParamLength: MAX_PARAM_LENGTH } });
  host.get('/hello', async () => ({ hello: 'world' }));
  host.get('/boom', async () => {
    throw new Error('host failure at /srv/host/app.js');
  });
  await host.register(gradscopePlugin, { prefix: '/gs', reader, store: fx.store, token: TOKEN });
  // A second instance beside it, over the same reader, without a token: siblings do not share hooks either.
  await host.register(gradscopePlugin, { prefix: '/open', reader });
  host.get('/after', async () => ({ registered: 'after the plugin' }));
  await host.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await host?.close();
  reader?.close();
  await fx?.cleanup();
});

const bearer = { authorization: `Bearer ${TOKEN}` };

describe('gradscopePlugin registered under a prefix in a host app', () => {
  it("the host's own routes answer without the token, CSP or cache headers, before and after the plugin", async () => {
    for (const path of ['/hello', '/after']) {
      for (let i = 0; i < 2; i++) {
        const res = await request(url + path);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-security-policy')).toBeNull();
        expect(res.headers.get('x-gradscope-cache')).toBeNull();
        expect(res.headers.get('www-authenticate')).toBeNull();
      }
    }
    expect((await request(`${url}/hello`)).body).toEqual({ hello: 'world' });
  });

  it("the host's routes keep the host's Host policy and error handler", async () => {
    const res = await rawRequest(`${url}/hello`, { headers: { host: 'evil.example' } });
    expect(res.status).toBe(200);
    // Fastify's default error handler (with statusCode), not the plugin's (error + message only).
    const boom = await request(`${url}/boom`);
    expect(boom.status).toBe(500);
    expect(boom.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'host failure at /srv/host/app.js',
    });
  });

  it('the plugin routes live under the prefix and want the token', async () => {
    expect((await request(`${url}/gs/api/runs`)).status).toBe(401);
    const runs = await request(`${url}/gs/api/runs`, { headers: bearer });
    expect(runs.status).toBe(200);
    expect(runs.body.map((r: { id: string }) => r.id)).toEqual([RUN.id]);
    expect(runs.headers.get('content-security-policy')).toContain("default-src 'self'");
    const again = await request(`${url}/gs/api/runs`, { headers: bearer });
    expect(again.headers.get('x-gradscope-cache')).toBe('hit');
    expect(again.body).toEqual(runs.body);
    const snaps = await request(`${url}/gs/api/runs/${RUN.name}/snapshots`, { headers: bearer });
    expect(snaps.body.map((s: { iteration: number }) => s.iteration)).toEqual([20, 200]);
    expect((await request(`${url}/api/runs`, { headers: bearer })).status).toBe(404);
  });

  it("the plugin's error handler answers its own errors, without the statusCode field", async () => {
    const res = await request(`${url}/gs/api/runs/nope`, { headers: bearer });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'Not Found', message: "no run with id or name 'nope'" });
  });

  it('?token= sets a cookie scoped to the prefix, and the cookie then opens the plugin routes', async () => {
    const res = await request(`${url}/gs/api/runs?token=${TOKEN}`);
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toContain('Path=/gs');
    expect(setCookie).toContain('HttpOnly');
    const cookie = setCookie.split(';')[0]!;
    expect((await request(`${url}/gs/api/runs`, { headers: { cookie } })).status).toBe(200);
  });

  it('the Host check guards the plugin routes only', async () => {
    const res = await rawRequest(`${url}/gs/api/runs`, { headers: { ...bearer, host: 'evil.example' } });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).message).toContain('does not answer to Host "evil.example"');
  });

  it('a sibling instance under another prefix keeps its own (absent) token and has no ingest', async () => {
    const runs = await request(`${url}/open/api/runs`);
    expect(runs.status).toBe(200);
    expect(runs.body.map((r: { id: string }) => r.id)).toEqual([RUN.id]);
    expect((await request(`${url}/gs/api/runs`)).status).toBe(401);
    const ingest = await request(`${url}/open/api/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
      body: encodeSnapshot(snapshot(999)),
    });
    expect(ingest.status).toBe(404);
  });

  it('ingest works under the prefix', async () => {
    const res = await request(`${url}/gs/api/ingest`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/vnd.apache.arrow.stream' },
      body: encodeSnapshot(snapshot(400)),
    });
    expect(res.status).toBe(201);
    expect(reader.listSnapshots({ run: RUN.id }).map((s) => s.iteration)).toEqual([20, 200, 400]);
  });
});
