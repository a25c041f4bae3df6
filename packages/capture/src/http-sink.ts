// HttpSink: sends snapshots to a gradscope server (POST /api/ingest), for trainers on other machines.
// Writes are queued (bounded) and sent in order by one background loop that retries with backoff what may
// pass (network errors, 408, 429, 5xx) and gives up at once on what will not (4xx, and 507: the server's
// disk is full), so close() against a server that cannot store returns in seconds, naming what it lost.
import { checkOptions, encodeSnapshot, type OptionKeys } from '@gradscope/format';
import { GradscopeError } from './errors.js';
import type { RunInfo, RunStatus, ScalarPoint, Sink, Snapshot } from './types.js';

export interface HttpSinkOptions {
  /** The server, e.g. http://127.0.0.1:6174. */
  url: string;
  /** Bearer token of a server started with --token. */
  token?: string;
  /** Requests queued but not yet sent before write() waits for room. Default 64. */
  maxQueue?: number;
  /** Bytes queued before write() waits for room. Default 256 MiB. */
  maxQueueBytes?: number;
  /**
   * Attempts per request on network errors, 408, 429 and 5xx but 507. Default 6 (about 8 s of backoff).
   * Any other 4xx (413: larger than the server's ingest limit) and 507 (the server cannot store: its disk is
   * full) are not retried.
   */
  attempts?: number;
  /** First retry delay in ms, doubled after each failure. Default 250. */
  retryDelayMs?: number;
  /** Time limit of one request in ms. Default 30000. */
  timeoutMs?: number;
  /** Called for each request given up on. Default: one warning on stderr. */
  onError?: (error: GradscopeError) => void;
}

/** HttpSinkOptions' keys: anything else given to HttpSink is an error. */
const HTTP_SINK_OPTIONS = {
  url: true,
  token: true,
  maxQueue: true,
  maxQueueBytes: true,
  attempts: true,
  retryDelayMs: true,
  timeoutMs: true,
  onError: true,
} as const satisfies OptionKeys<HttpSinkOptions>;

/** Statuses that say the request will fail again however often it is sent. */
function permanent(status: number): boolean {
  return status === 507 || (status >= 400 && status < 500 && status !== 408 && status !== 429);
}

/** What flush() names when it rejects: the first few requests given up on, and how many in all. */
const NAMED_FAILURES = 5;

export interface HttpSinkStats {
  /** Requests sent (snapshots, run records, scalar batches). */
  sent: number;
  /**
   * Snapshots whose write() had resolved (queued) but that were never delivered (the Sink contract's
   * `stats().failed`: the callback counts them in its stats.dropped).
   */
  failed: number;
  /** Requests given up on, of every kind (snapshots, run records, scalar batches). */
  failedRequests: number;
  /** Requests queued, not yet sent. */
  queued: number;
}

interface Request {
  path: string;
  body: Uint8Array | string;
  contentType: string;
  what: string;
  snapshot?: boolean;
}

/** Points per POST /api/runs/:run/scalars (the server's limit). */
const MAX_SCALARS_PER_REQUEST = 10_000;

/** JSON has no NaN or Infinity: a non-finite value travels as null, which the server stores as NaN. */
/** JSON has no Infinity: a diverged loss goes as the string "Infinity" or "-Infinity" (NaN as null). */
function scalarJson(points: ScalarPoint[]): string {
  return JSON.stringify({ points }, (key, value) =>
    key === 'value' && (value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY)
      ? String(value)
      : value,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class HttpSink implements Sink {
  readonly url: string;
  private readonly queue: Request[] = [];
  private queuedBytes = 0;
  private readonly stats_ = { sent: 0, failed: 0, failedRequests: 0 };
  private pumping: Promise<void> | undefined;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** Requests given up on since the last flush(), for its error. */
  private unsent: { whats: string[]; count: number; snapshots: number; why: string } | undefined;
  private warned = false;
  private readonly opts: Required<Omit<HttpSinkOptions, 'token' | 'onError' | 'url'>>;

  constructor(private readonly options: HttpSinkOptions) {
    checkOptions(options ?? null, HTTP_SINK_OPTIONS, 'HttpSink', (message) => new GradscopeError(message));
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new GradscopeError(
        `HttpSink: url must be an absolute http(s) URL, got ${JSON.stringify(options.url)}`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new GradscopeError(`HttpSink: url must be http or https, got ${JSON.stringify(options.url)}`);
    }
    this.url = url.href.replace(/\/$/, '');
    this.opts = {
      maxQueue: options.maxQueue ?? 64,
      maxQueueBytes: options.maxQueueBytes ?? 256 * 2 ** 20,
      attempts: options.attempts ?? 6,
      retryDelayMs: options.retryDelayMs ?? 250,
      timeoutMs: options.timeoutMs ?? 30_000,
    };
    for (const [name, value] of Object.entries(this.opts)) {
      if (!Number.isFinite(value) || value < (name === 'retryDelayMs' ? 0 : 1)) {
        throw new GradscopeError(`HttpSink: ${name} must be a positive number, got ${JSON.stringify(value)}`);
      }
    }
  }

  stats(): HttpSinkStats {
    return { ...this.stats_, queued: this.queue.length };
  }

  async startRun(run: RunInfo): Promise<void> {
    await this.enqueue({
      path: '/api/ingest/runs',
      body: JSON.stringify(run),
      contentType: 'application/json',
      what: `run ${run.id}`,
    });
  }

  async endRun(runId: string, status: RunStatus): Promise<void> {
    await this.enqueue({
      path: `/api/ingest/runs/${encodeURIComponent(runId)}/end`,
      body: JSON.stringify({ status }),
      contentType: 'application/json',
      what: `end of run ${runId}`,
    });
  }

  /** Resolves once the snapshot is queued (encoded: the caller may reuse its data). */
  async write(snapshot: Snapshot): Promise<void> {
    await this.enqueue({
      path: '/api/ingest',
      body: encodeSnapshot(snapshot),
      contentType: 'application/vnd.apache.arrow.stream',
      what: `snapshot ${snapshot.layer} ${snapshot.kind}${snapshot.part ? ` ${snapshot.part}` : ''} @${snapshot.iteration}`,
      snapshot: true,
    });
  }

  /** Queues training scalars for POST /api/runs/:run/scalars, at most 10,000 points per request. */
  async writeScalars(run: string, points: ScalarPoint[]): Promise<void> {
    for (let i = 0; i < points.length; i += MAX_SCALARS_PER_REQUEST) {
      const chunk = points.slice(i, i + MAX_SCALARS_PER_REQUEST);
      await this.enqueue({
        path: `/api/runs/${encodeURIComponent(run)}/scalars`,
        body: scalarJson(chunk),
        contentType: 'application/json',
        what: `${chunk.length} scalars of run ${run}`,
      });
    }
  }

  /**
   * Resolves when everything queued so far was sent; rejects if something could not be, naming the first
   * requests given up on since the last flush, how many in all, and why the first one failed.
   */
  async flush(): Promise<void> {
    if (this.pumping !== undefined) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const unsent = this.unsent;
    this.unsent = undefined;
    if (unsent === undefined) return;
    const more = unsent.count - unsent.whats.length;
    const named = unsent.whats.join(', ') + (more > 0 ? ` and ${more} more` : '');
    const snapshots = unsent.snapshots === 1 ? '1 snapshot' : `${unsent.snapshots} snapshots`;
    throw new GradscopeError(
      `HttpSink: not stored by ${this.url}: ${named} (${unsent.count} request${unsent.count === 1 ? '' : 's'}, ${snapshots}); the first failed with ${unsent.why}`,
      'ESINK',
    );
  }

  close(): Promise<void> {
    return this.flush();
  }

  private async enqueue(request: Request): Promise<void> {
    const size = typeof request.body === 'string' ? request.body.length : request.body.byteLength;
    while (
      this.queue.length > 0 &&
      (this.queue.length >= this.opts.maxQueue || this.queuedBytes + size > this.opts.maxQueueBytes)
    ) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    this.queue.push(request);
    this.queuedBytes += size;
    this.pumping ??= this.pump();
  }

  private async pump(): Promise<void> {
    for (let request = this.queue[0]; request !== undefined; request = this.queue[0]) {
      await this.send(request);
      this.queue.shift();
      this.queuedBytes -= typeof request.body === 'string' ? request.body.length : request.body.byteLength;
      this.roomWaiters.shift()?.();
    }
    this.pumping = undefined;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** One request with retries; failures are reported, never thrown (training must go on). */
  private async send(request: Request): Promise<void> {
    let delay = this.opts.retryDelayMs;
    let why = '';
    let retryAfterMs: number | undefined;
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      retryAfterMs = undefined;
      try {
        const res = await fetch(this.url + request.path, {
          method: 'POST',
          headers: {
            'content-type': request.contentType,
            ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          },
          body: request.body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        if (res.ok) {
          this.stats_.sent++;
          return;
        }
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        const text = await res.text().catch(() => '');
        why = `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
        if (res.status === 401) why += ' (wrong or missing token: HttpSink({ token }))';
        // The request itself is wrong (malformed, too large, unauthorised) or the server cannot store it
        // (507, a full disk): sending it again won't help.
        if (permanent(res.status)) break;
      } catch (err) {
        why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
      if (attempt < this.opts.attempts) {
        // A server that says when to come back (503 + Retry-After while its ingest is full) is believed,
        // up to a minute; otherwise exponential backoff.
        await sleep(retryAfterMs !== undefined ? Math.max(retryAfterMs, delay) : delay);
        delay *= 2;
      }
    }
    this.stats_.failedRequests++;
    if (request.snapshot === true) this.stats_.failed++;
    const error = new GradscopeError(
      `HttpSink: could not send ${request.what} to ${this.url}${request.path}: ${why}`,
      'ESINK',
    );
    this.unsent ??= { whats: [], count: 0, snapshots: 0, why };
    this.unsent.count++;
    if (request.snapshot === true) this.unsent.snapshots++;
    if (this.unsent.whats.length < NAMED_FAILURES) this.unsent.whats.push(request.what);
    if (this.options.onError) this.options.onError(error);
    else if (!this.warned) {
      this.warned = true;
      console.warn(
        `gradscope: ${error.message} (further failures are counted in sink.stats().failedRequests)`,
      );
    }
  }
}

/** Retry-After in ms (delta-seconds or an HTTP date), capped at 60 s; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(Math.max(seconds, 0), 60_000);
}
