// HttpSink against a real local HTTP server: scalars go to POST /api/runs/:run/scalars in chunks the
// server accepts, non-finite values travel as null, and a snapshot given up on is counted as failed.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseRetryAfter } from './http-sink.js';
import { HttpSink, type ScalarPoint, type Snapshot } from './index.js';

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
    await expect(sink.flush()).rejects.toThrow(/could not send snapshot lstm input-grad @1/);
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
