// HttpSink against a real local HTTP server: scalars go to POST /api/runs/:run/scalars in chunks the
// server accepts, non-finite values travel as null, and a snapshot given up on is counted as failed.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseRetryAfter } from './http-sink.js';
import { GradscopeError, HttpSink, type ScalarPoint, type Snapshot } from './index.js';

interface Received {
  method: string;
  url: string;
  type: string;
  body: Buffer;
}

let server: Server | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that answers `status(request)` to every request and keeps what it got. */
async function listen(status: (req: IncomingMessage) => number) {
  const received: Received[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        type: String(req.headers['content-type']),
        body: Buffer.concat(chunks),
      });
      res.statusCode = status(req);
      if (res.statusCode === 503) res.setHeader('retry-after', '1');
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received };
}

const points = (count: number): ScalarPoint[] =>
  Array.from({ length: count }, (_, i) => ({
    iteration: i + 1,
    name: 'loss',
    value: 1 / (i + 1),
    time: 1000 + i,
  }));

describe('HttpSink', () => {
  it('posts scalars to /api/runs/:run/scalars, at most 10,000 points a request, in order', async () => {
    const { url, received } = await listen(() => 200);
    const sink = new HttpSink({ url });
    const sent = points(25_001);
    await sink.writeScalars('run a/1', sent);
    await sink.flush();
    expect(received.map((r) => [r.method, r.url, r.type])).toEqual(
      Array(3).fill(['POST', '/api/runs/run%20a%2F1/scalars', 'application/json']),
    );
    const bodies = received.map((r) => JSON.parse(r.body.toString()) as { points: ScalarPoint[] });
    expect(bodies.map((b) => b.points.length)).toEqual([10_000, 10_000, 5_001]);
    expect(bodies.flatMap((b) => b.points)).toEqual(sent);
    expect(sink.stats()).toMatchObject({ sent: 3, failed: 0, failedRequests: 0 });
  });

  it('sends NaN as null and ±Infinity as the strings the server reads back as ±Infinity', async () => {
    const { url, received } = await listen(() => 200);
    const sink = new HttpSink({ url });
    const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5];
    await sink.writeScalars(
      'r',
      values.map((value, i) => ({ iteration: i, name: 'loss', value, time: 1 })),
    );
    await sink.flush();
    const body = JSON.parse(received[0]!.body.toString()) as { points: { value: unknown }[] };
    expect(body.points.map((p) => p.value)).toEqual([null, 'Infinity', '-Infinity', 0.5]);
  });

  it('counts a snapshot it accepted and then gave up on as failed (the Sink contract); every request in failedRequests', async () => {
    const { url } = await listen((req) => (req.url?.startsWith('/api/ingest') ? 400 : 200));
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const sink = new HttpSink({ url, attempts: 1 });
    const snapshot: Snapshot = {
      run: 'r',
      iteration: 1,
      epoch: 0,
      batch: 0,
      layer: 'lstm',
      layerClass: 'LSTM',
      kind: 'input-grad',
      shape: [1, 2, 1],
      dims: ['sample', 'timestep', 'channel'],
      data: new Float32Array([1, 2]),
      loss: 0.5,
      time: 1,
      nonFinite: 0,
    };
    await sink.write(snapshot); // resolves on queueing
    await sink.write(snapshot);
    await sink.writeScalars('r', points(3));
    await expect(sink.flush()).rejects.toThrow(
      `HttpSink: not stored by ${url}: snapshot lstm input-grad @1, snapshot lstm input-grad @1 (2 requests, 2 snapshots); the first failed with HTTP 400: {}`,
    );
    await sink.startRun({ id: 'r' } as never); // refused too, but not a snapshot
    await sink.flush().catch(() => {});
    expect(sink.stats()).toMatchObject({ sent: 1, failed: 2, failedRequests: 3, queued: 0 });
  });

  it('waits as long as a 503 Retry-After says before sending again', async () => {
    const times: number[] = [];
    const { url, received } = await listen(() => {
      times.push(Date.now());
      return times.length === 1 ? 503 : 200;
    });
    const sink = new HttpSink({ url, retryDelayMs: 10 });
    await sink.writeScalars('r', points(2));
    await sink.flush();
    expect(received).toHaveLength(2);
    // Exponential backoff alone would have retried after 10 ms; the header asked for 1 s.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
    expect(sink.stats()).toMatchObject({ sent: 1, failedRequests: 0 });
  });
});

/** A snapshot of `shape` [1, n, 1] at `iteration`. */
const snapshotAt = (iteration: number, n = 2): Snapshot => ({
  run: 'r',
  iteration,
  epoch: 0,
  batch: 0,
  layer: 'lstm',
  layerClass: 'LSTM',
  kind: 'input-grad',
  shape: [1, n, 1],
  dims: ['sample', 'timestep', 'channel'],
  data: new Float32Array(n).fill(0.5),
  loss: 0.5,
  time: 1,
  nonFinite: 0,
});

describe('HttpSink against a Fastify server that cannot store', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** Fastify on loopback with the ingest routes, answering `status`; counts the requests that reach it. */
  async function fastify(status: number, bodyLimit?: number) {
    app = Fastify(bodyLimit === undefined ? {} : { bodyLimit });
    const seen = { requests: 0, handled: 0 };
    app.addHook('onRequest', async () => {
      seen.requests++;
    });
    app.addContentTypeParser(
      'application/vnd.apache.arrow.stream',
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );
    for (const path of [
      '/api/ingest',
      '/api/ingest/runs',
      '/api/ingest/runs/:run/end',
      '/api/runs/:run/scalars',
    ]) {
      app.post(path, async (_req, reply) => {
        seen.handled++;
        return reply.code(status).send(
          status === 507
            ? {
                error: 'Insufficient Storage',
                message: 'the store is full (SQLITE_FULL): free some disk space',
              }
            : {},
        );
      });
    }
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, seen };
  }

  it('507: each request sent once, then given up on; close() names what was not stored', async () => {
    const { url, seen } = await fastify(507);
    const errors: string[] = [];
    // The defaults: 6 attempts from 250 ms, which used to make each request take ~7.75 s against 507.
    const sink = new HttpSink({ url, onError: (e) => errors.push(e.message) });
    await sink.startRun({ id: 'r' } as never);
    for (let i = 1; i <= 20; i++) await sink.write(snapshotAt(i));
    await sink.writeScalars('r', points(3));
    await sink.endRun('r', 'finished');
    const closed = sink.close();
    await expect(closed).rejects.toThrow(GradscopeError);
    await expect(closed).rejects.toThrow(
      `HttpSink: not stored by ${url}: run r, snapshot lstm input-grad @1, snapshot lstm input-grad @2, snapshot lstm input-grad @3, snapshot lstm input-grad @4 and 18 more (23 requests, 20 snapshots); the first failed with HTTP 507: {"error":"Insufficient Storage","message":"the store is full (SQLITE_FULL): free some disk space"}`,
    );
    expect(seen).toEqual({ requests: 23, handled: 23 });
    expect(sink.stats()).toEqual({ sent: 0, failed: 20, failedRequests: 23, queued: 0 });
    expect(errors).toHaveLength(23);
    expect(errors[1]).toBe(
      `HttpSink: could not send snapshot lstm input-grad @1 to ${url}/api/ingest: HTTP 507: {"error":"Insufficient Storage","message":"the store is full (SQLITE_FULL): free some disk space"}`,
    );
    // The next flush reports only what failed after the last one.
    await expect(sink.flush()).resolves.toBeUndefined();
  });

  it("413 (larger than the server's body limit) is not retried; a smaller snapshot still goes", async () => {
    const { url, seen } = await fastify(201, 1024);
    const errors: string[] = [];
    const sink = new HttpSink({ url, retryDelayMs: 1, onError: (e) => errors.push(e.message) });
    await sink.write(snapshotAt(1, 4096)); // 16 KiB of float32: over the 1 KiB limit
    await sink.write(snapshotAt(2));
    await expect(sink.close()).rejects.toThrow(
      `HttpSink: not stored by ${url}: snapshot lstm input-grad @1 (1 request, 1 snapshot); the first failed with HTTP 413: `,
    );
    expect(errors[0]).toMatch(/FST_ERR_CTP_BODY_TOO_LARGE/);
    expect(seen).toEqual({ requests: 2, handled: 1 });
    expect(sink.stats()).toEqual({ sent: 1, failed: 1, failedRequests: 1, queued: 0 });
  });

  it.each([500, 503])('%i is transient: sent `attempts` times before it is given up on', async (status) => {
    const { url, seen } = await fastify(status);
    const sink = new HttpSink({ url, attempts: 3, retryDelayMs: 1, onError: () => {} });
    await sink.write(snapshotAt(1));
    await expect(sink.close()).rejects.toThrow(`the first failed with HTTP ${status}`);
    expect(seen).toEqual({ requests: 3, handled: 3 });
  });

  it('refuses an unknown option, naming it and the closest one', () => {
    expect(() => new HttpSink({ url: 'http://127.0.0.1:1', retryDelay: 5 } as never)).toThrow(
      new GradscopeError("unknown option 'retryDelay' for HttpSink; did you mean 'retryDelayMs'?"),
    );
    expect(() => new HttpSink({ url: 'http://127.0.0.1:1', tokn: 'secret-token' } as never)).toThrow(
      "unknown option 'tokn' for HttpSink; did you mean 'token'?",
    );
    expect(() => new HttpSink(undefined as never)).toThrow(
      'the options of HttpSink must be an object, got null',
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, caps at a minute, ignores junk', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('86400', now)).toBe(60_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
