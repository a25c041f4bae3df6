// The response cache of the read routes marked `config: { cache: true }`: serialised bodies by URL, valid
// while the database is unchanged (SQLite's data_version moves on every commit by another connection, the
// trainers' and the ingest writer's included), bounded by the bytes it holds, least recently used out first.
// Answers that hold a run's status are also bounded in age (CACHED_LIVE): 'interrupted' is derived at read
// time from the writer's liveness, which no commit announces when the writer is killed.
import type { RunReader } from '@gradscope/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Route config marking a GET route's 200 answers as cacheable. */
export const CACHED = { cache: true } as const;

/**
 * How long an answer holding a run's status may be served from the cache, ms: a run whose writer died
 * shows 'interrupted' at most this long after the reader can tell (the database does not change then).
 */
export const LIVE_MAX_AGE_MS = 2_000;

/** Route config of the answers that hold a run's status: cacheable, for at most LIVE_MAX_AGE_MS. */
export const CACHED_LIVE = { cache: true, maxAgeMs: LIVE_MAX_AGE_MS } as const;

type CacheConfig = { cache?: boolean; maxAgeMs?: number } | undefined;

/** Default bound of the cache: 8 MiB of response bodies. */
export const DEFAULT_CACHE_BYTES = 8 * 2 ** 20;

export class ResponseCache {
  // Bodies are kept as Buffers: writing a string re-encodes it to UTF-8 on every send.
  private readonly entries = new Map<string, { version: number; body: Buffer; expires: number }>();
  private held = 0;

  /**
   * `maxBytes` bounds the bodies held (keys and bookkeeping aside); a body larger than a quarter of it is
   * never cached, so one huge answer cannot empty the cache of everything else. 0 turns caching off.
   */
  constructor(
    readonly maxBytes: number = DEFAULT_CACHE_BYTES,
    /** The clock of `maxAgeMs` (ms). */
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes of bodies held now. */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The body kept for `key` at the database's `version` (RunReader.dataVersion), if any. */
  get(key: string, version: number): Buffer | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.drop(key);
    if (hit.version !== version || this.now() >= hit.expires) return undefined;
    this.entries.set(key, hit); // re-inserted: most recently used last
    this.held += hit.body.byteLength;
    return hit.body;
  }

  /** Whether a body of `chars` UTF-16 units is too large to keep (its UTF-8 bytes are at least as many). */
  tooLarge(chars: number): boolean {
    return chars > this.maxBytes / 4;
  }

  /**
   * Keeps `body`, read at the database's `version`, for `key` while the database is unchanged, and at most
   * `maxAgeMs` (default: no bound).
   */
  set(key: string, body: Buffer, version: number, maxAgeMs = Number.POSITIVE_INFINITY): void {
    this.drop(key);
    if (body.byteLength > this.maxBytes / 4) return;
    this.entries.set(key, { version, body, expires: this.now() + maxAgeMs });
    this.held += body.byteLength;
    for (const [oldest, entry] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.held -= entry.body.byteLength;
    }
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.held -= entry.body.byteLength;
  }
}

const cacheable = (req: FastifyRequest) =>
  req.method === 'GET' && (req.routeOptions.config as CacheConfig)?.cache === true;

/** Answers cached GETs before their handler runs, and keeps the 200 answers of cacheable routes. */
export function installResponseCache(
  app: FastifyInstance,
  reader: RunReader,
  maxBytes?: number,
): ResponseCache {
  const cache = new ResponseCache(maxBytes);
  // Without room for a body (cacheBytes 0) nothing is kept: no hook, so no request reads a data version (on
  // PostgreSQL, a round trip each).
  if (cache.maxBytes === 0) return cache;
  // The version is read before the handler reads anything: an answer is kept under the version it may be
  // older than, never newer (a commit in between makes the next request miss, not serve a stale body).
  const versions = new WeakMap<FastifyRequest, number>();
  app.addHook('preHandler', async (req, reply) => {
    if (!cacheable(req)) return;
    const version = await reader.dataVersion();
    versions.set(req, version);
    const body = cache.get(req.url, version);
    if (body === undefined) return;
    return reply.type('application/json; charset=utf-8').header('x-gradscope-cache', 'hit').send(body);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (
      cacheable(req) &&
      reply.statusCode === 200 &&
      typeof payload === 'string' &&
      !cache.tooLarge(payload.length) &&
      !reply.getHeader('x-gradscope-cache') &&
      versions.has(req)
    )
      cache.set(
        req.url,
        Buffer.from(payload),
        versions.get(req)!,
        (req.routeOptions.config as CacheConfig)?.maxAgeMs,
      );
    return payload;
  });
  return cache;
}
