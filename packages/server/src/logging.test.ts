// The server's logs (issue 23): one JSON line per request and per error through Fastify's pino, a request id
// in every 5xx body that finds its log line, and no secret (token, cookie, authorization header) in any line.
// A real server on loopback, its log stream captured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer, ServerError } from './index.js';
import { type Fixture, RUN, rawRequest, storeWith } from './test-util/fixture.js';

const TOKEN = 'logging-secret-token-42';
let fx: Fixture;
let server: RunningServer;
const lines: string[] = [];
const stream = { write: (line: string) => lines.push(line) };
// biome-ignore lint/suspicious/noExplicitAny: log lines are JSON objects checked field by field
const logged = (): any[] => lines.map((l) => JSON.parse(l));

beforeAll(async () => {
  fx = await storeWith([20]);
  server = await buildServer({ db: fx.db, port: 0, token: TOKEN, logger: { level: 'info', stream } });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
});

describe('server logs', () => {
  it('logs each request as JSON (method, url, status, time) without the token, cookie or authorization', async () => {
    lines.length = 0;
    const viaQuery = await rawRequest(`${server.url}/api/runs?token=${TOKEN}`);
    expect(viaQuery.status).toBe(200);
    const cookie = String(viaQuery.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toContain('gradscope_token=');
    expect((await rawRequest(`${server.url}/api/runs/${RUN.id}`, { headers: { cookie } })).status).toBe(200);
    expect(
      (
        await rawRequest(`${server.url}/api/runs/${RUN.id}/layers`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).status,
    ).toBe(200);
    const refused = await rawRequest(`${server.url}/api/runs`, {
      headers: { authorization: 'Bearer wrong-token-1' },
    });
    expect(refused.status).toBe(401);

    const text = lines.join('');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('wrong-token-1');
    expect(text).not.toContain(cookie.split('=')[1]!);
    expect(text.toLowerCase()).not.toContain('bearer');
    const entries = logged();
    const incoming = entries.filter((e) => e.msg === 'incoming request').map((e) => e.req.url);
    expect(incoming).toEqual([
      '/api/runs?token=[redacted]',
      `/api/runs/${RUN.id}`,
      `/api/runs/${RUN.id}/layers`,
      '/api/runs',
    ]);
    const completed = entries.filter((e) => e.msg === 'request completed');
    expect(completed.map((e) => e.res.statusCode)).toEqual([200, 200, 200, 401]);
    for (const e of completed) {
      expect(typeof e.reqId).toBe('string');
      expect(e.responseTime).toBeGreaterThanOrEqual(0);
      expect(e.level).toBe(30);
    }
  });

  it('a 5xx body carries the request id of its error log line, which holds the details the body leaves out', async () => {
    lines.length = 0;
    await server.reader.close();
    const res = await rawRequest(`${server.url}/api/runs/${RUN.id}/snapshots`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(500);
    const body = JSON.parse(res.text);
    expect(body).toEqual({
      error: 'Internal Server Error',
      message: 'the server failed to answer this request (the details are in its log)',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const errors = logged().filter((e) => e.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].reqId).toBe(body.requestId);
    expect(errors[0].statusCode).toBe(500);
    expect(errors[0].err.message).toMatch(/closed/i);
    expect(errors[0].err.stack).toContain('\n');
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('a wrong level or logger is a ServerError naming it', async () => {
    await expect(
      buildServer({ db: fx.db, port: 0, logger: { level: 'loud' as never, stream } }),
    ).rejects.toThrow(
      new ServerError(
        'EINVAL',
        '--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      ),
    );
    await expect(buildServer({ db: fx.db, port: 0, logger: 'yes' as never })).rejects.toThrow(
      'logger must be true, false or { level, stream }, got "yes"',
    );
  });
});
