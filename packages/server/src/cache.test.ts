// The response cache: bounded by bytes (least recently used out first, oversized bodies never kept),
// invalid as soon as the database changes; and through a real server, hits and evictions as seen by a client.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openReader } from '@gradscope/store';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_BYTES, LIVE_MAX_AGE_MS, ResponseCache } from './cache.js';
import { buildServer, gradscopePlugin } from './index.js';
import { request, snapshot, storeWith } from './test-util/fixture.js';

const LIVE_WRITER = fileURLToPath(new URL('../../store/src/test-util/live-writer.mjs', import.meta.url));

const body = (n: number, fill = 'x') => Buffer.from(fill.repeat(n));

describe('ResponseCache', () => {
  it('holds at most maxBytes of bodies, evicting the least recently used', () => {
    const cache = new ResponseCache(1000);
    for (let i = 0; i < 10; i++) cache.set(`/u${i}`, body(200, String(i)), 1);
    expect(cache.bytes).toBeLessThanOrEqual(1000);
    expect(cache.size).toBe(5);
    expect(cache.get('/u0', 1)).toBeUndefined();
    expect(cache.get('/u9', 1)?.toString()).toBe('9'.repeat(200));
    // /u5 is the oldest now; touching it makes /u6 the next to go.
    expect(cache.get('/u5', 1)).toBeDefined();
    cache.set('/new', body(200), 1);
    expect(cache.get('/u6', 1)).toBeUndefined();
    expect(cache.get('/u5', 1)).toBeDefined();
    expect(cache.bytes).toBe(1000);
  });

  it("by default holds at most 8 MiB of bodies (issue 23: a server's memory), none over 2 MiB", () => {
    expect(DEFAULT_CACHE_BYTES).toBe(8 * 2 ** 20);
    const cache = new ResponseCache();
    expect(cache.maxBytes).toBe(8 * 2 ** 20);
    const kib = 2 ** 10;
    for (let i = 0; i < 100; i++) cache.set(`/view${i}`, Buffer.alloc(256 * kib, i), 1);
    expect(cache.bytes).toBe(8 * 2 ** 20);
    expect(cache.size).toBe(32);
    expect(cache.get('/view67', 1)).toBeUndefined();
    expect(cache.get('/view68', 1)?.[0]).toBe(68);
    cache.set('/huge', Buffer.alloc(2 * 2 ** 20 + 1), 1);
    expect(cache.get('/huge', 1)).toBeUndefined();
    expect(cache.tooLarge(2 * 2 ** 20)).toBe(false);
    expect(cache.tooLarge(2 * 2 ** 20 + 1)).toBe(true);
  });

  it('never keeps a body larger than a quarter of the bound; replacing a key does not double-count', () => {
    const cache = new ResponseCache(1000);
    cache.set('/big', body(251), 1);
    expect(cache.get('/big', 1)).toBeUndefined();
    expect(cache.bytes).toBe(0);
    cache.set('/a', body(100), 1);
    cache.set('/a', body(150), 1);
    expect(cache.bytes).toBe(150);
    expect(cache.size).toBe(1);
  });

  it('an entry is dropped once the database version moves on', () => {
    let version = 1;
    const cache = new ResponseCache(1000);
    cache.set('/a', body(10), version);
    expect(cache.get('/a', version)).toBeDefined();
    version = 2;
    expect(cache.get('/a', version)).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it('maxBytes 0 keeps nothing', () => {
    const cache = new ResponseCache(0);
    cache.set('/a', body(1), 1);
    expect(cache.size).toBe(0);
  });

  it('an entry given maxAgeMs is served until then and not after; without it, only the version bounds it', () => {
    let now = 1_000;
    const cache = new ResponseCache(1000, () => now);
    cache.set('/runs', body(10), 1, 2_000);
    cache.set('/flow', body(10), 1);
    now = 2_999;
    expect(cache.get('/runs', 1)?.byteLength).toBe(10);
    now = 3_000;
    expect(cache.get('/runs', 1)).toBeUndefined();
    expect(cache.bytes).toBe(10);
    now = 1e12;
    expect(cache.get('/flow', 1)?.byteLength).toBe(10);
  });
});

describe('the cache behind a server', () => {
  it('hits repeat URLs, evicts beyond its bytes, and never serves a stale answer', async () => {
    const fx = await storeWith([20, 200]);
    // An index answer of 2 snapshots is about 1 KB: room for a few of them in 8 KiB.
    const server = await buildServer({ db: fx.db, port: 0, cacheBytes: 8 * 1024 });
    try {
      const url = (offset: number) => `${server.url}/api/runs/run-1/snapshots?offset=${offset}`;
      const first = await request(url(0));
      expect(first.headers.get('x-gradscope-cache')).toBeNull();
      const size = Buffer.byteLength(first.text);
      expect(size).toBeGreaterThan(500);
      const hit = await request(url(0));
      expect(hit.headers.get('x-gradscope-cache')).toBe('hit');
      expect(hit.text).toBe(first.text);
      // Enough other URLs (same answer, other keys) to push the first out of 8 KiB.
      const others = Math.ceil((8 * 1024) / size) + 1;
      for (let i = 1; i <= others; i++) await request(`${url(0)}&limit=${i + 10}`);
      expect((await request(url(0))).headers.get('x-gradscope-cache')).toBeNull();
      // A write moves the database on: the next answer is fresh and has the new snapshot.
      expect((await request(url(0))).headers.get('x-gradscope-cache')).toBe('hit');
      await fx.store.write(snapshot(400));
      await fx.store.flush();
      const fresh = await request(url(0));
      expect(fresh.headers.get('x-gradscope-cache')).toBeNull();
      expect(fresh.body.map((s: { iteration: number }) => s.iteration)).toEqual([20, 200, 400]);
    } finally {
      await server.close();
      await fx.cleanup();
    }
  });
});

describe('a server without a cache', () => {
  it('keeps no answer and reads no data version (on PostgreSQL, a round trip a request saves)', async () => {
    const fx = await storeWith([20, 200]);
    const reader = openReader(fx.db);
    let versions = 0;
    const counted = new Proxy(reader, {
      get(target, key) {
        const v = Reflect.get(target, key, target);
        if (key !== 'dataVersion') return typeof v === 'function' ? v.bind(target) : v;
        return () => {
          versions++;
          return target.dataVersion();
        };
      },
    });
    const apps = [0, 8 * 1024].map((cacheBytes) => {
      const host = Fastify();
      host.register(gradscopePlugin, { reader: counted, cacheBytes, pollMs: 60_000 });
      return host;
    });
    try {
      const answers: { cache: string | undefined; versions: number }[] = [];
      for (const host of apps) {
        for (let i = 0; i < 2; i++) {
          const before = versions;
          const res = await host.inject({ url: '/api/runs/run-1/snapshots' });
          expect(res.statusCode).toBe(200);
          expect(res.json().map((x: { iteration: number }) => x.iteration)).toEqual([20, 200]);
          answers.push({
            cache: res.headers['x-gradscope-cache'] as string | undefined,
            versions: versions - before,
          });
        }
      }
      expect(answers).toEqual([
        { cache: undefined, versions: 0 },
        { cache: undefined, versions: 0 },
        { cache: undefined, versions: 1 },
        { cache: 'hit', versions: 1 },
      ]);
    } finally {
      for (const host of apps) await host.close();
      reader.close();
      await fx.cleanup();
    }
  });
});

describe('run status and the cache', () => {
  it('a run whose writer is killed shows "interrupted" within LIVE_MAX_AGE_MS, though the file never changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-server-live-'));
    const db = join(dir, 'runs.gradscope');
    const child = spawn(process.execPath, [LIVE_WRITER, db, 'live'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    let server: Awaited<ReturnType<typeof buildServer>> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
        child.on('close', (code) => reject(new Error(`live-writer exited (${code}) before it was ready`)));
      });
      server = await buildServer({ db, port: 0, ingest: false });
      const urls = [`${server.url}/api/runs`, `${server.url}/api/runs/live`];
      const status = (a: { body: unknown }) =>
        Array.isArray(a.body)
          ? (a.body as { status: string }[])[0]!.status
          : (a.body as { status: string }).status;
      for (const url of urls) {
        expect(status(await request(url))).toBe('running');
        // A heartbeat (every 5 s) commits and may fall between the two requests: then ask once more.
        let again = await request(url);
        if (again.headers.get('x-gradscope-cache') === null) again = await request(url);
        expect([status(again), again.headers.get('x-gradscope-cache')]).toEqual(['running', 'hit']);
      }
      child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      // Nothing is committed any more: only the cap on the age of these answers lets the status move on.
      for (const url of urls) {
        let answer = await request(url);
        while (status(answer) === 'running' && Date.now() - killedAt < LIVE_MAX_AGE_MS + 3_000) {
          await new Promise((r) => setTimeout(r, 100));
          answer = await request(url);
        }
        expect(status(answer)).toBe('interrupted');
        expect(Date.now() - killedAt).toBeLessThan(LIVE_MAX_AGE_MS + 3_000);
      }
      // Still an ordinary cached answer afterwards.
      const hit = await request(urls[0]!);
      expect([status(hit), hit.headers.get('x-gradscope-cache')]).toEqual(['interrupted', 'hit']);
    } finally {
      child.kill('SIGKILL');
      await exited;
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
