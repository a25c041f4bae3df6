// The gradscope Fastify plugin: the JSON/Arrow API over a store reader, live updates, remote ingest
// and the viewer's static files. Mount it in your own Fastify app, or use buildServer().
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { RunInfo, RunStatus } from '@gradscope/capture';
import {
  exportRunToStream,
  type Kind,
  type Reader,
  type SnapshotInfo,
  type SnapshotSummary,
  type Store,
  StoreError,
  snapshotFromIpc,
} from '@gradscope/store';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { requireToken } from './auth.js';
import { EventHub, type LiveEvent } from './events.js';
import * as S from './schemas.js';

export interface GradscopePluginOptions {
  /** Where runs are read from. */
  reader: Reader;
  /** Enables remote ingest (POST /api/ingest…): the store snapshots are written to. */
  store?: Store;
  /** Required on every request when set (Authorization: Bearer, or ?token= once → cookie). */
  token?: string;
  /** The viewer's built files (apps/viewer/dist), served at the plugin's root. */
  viewerDir?: string;
  /** Largest accepted ingest body, bytes. Default 256 MiB. */
  ingestLimit?: number;
  /** How often live updates look for new snapshots, ms. Default 500. */
  pollMs?: number;
}

const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

/** Content-Security-Policy of every response: the viewer loads only its own files and talks only to us. */
const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  workerSrc: ["'self'", 'blob:'],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
};

type Series = {
  Params: { run: string };
  Querystring: { layer: string; kind: Kind; part?: string; max?: number };
};

async function gradscope(app: FastifyInstance, options: GradscopePluginOptions): Promise<void> {
  const { reader, store } = options;
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP },
    crossOriginEmbedderPolicy: false,
  });
  if (options.token !== undefined) app.addHook('onRequest', requireToken(options.token));
  app.setErrorHandler(errorHandler);

  installResponseCache(app, reader);
  const hub = new EventHub(pollChanges(reader), options.pollMs ?? 500);
  app.addHook('onClose', async () => hub.close());

  app.get('/api/health', async () => ({ ok: true }));

  app.get('/api/runs', { config: CACHED, schema: { response: { 200: S.runsResponse } } }, async () =>
    reader.listRuns(),
  );

  app.get<{ Params: { run: string } }>(
    '/api/runs/:run',
    {
      config: CACHED,
      schema: { params: S.runParams, response: { 200: S.runResponse, 404: S.errorResponse } },
    },
    async (req) => {
      const run = reader.getRun(req.params.run);
      if (run === undefined) throw notFound(`no run with id or name '${req.params.run}'`);
      return run;
    },
  );

  app.get<{ Params: { run: string } }>(
    '/api/runs/:run/layers',
    { config: CACHED, schema: { params: S.runParams, response: { 200: S.layersResponse } } },
    async (req) => reader.listLayers(req.params.run),
  );

  app.get<{
    Params: { run: string };
    Querystring: {
      layer?: string;
      kind?: Kind;
      part?: string;
      from?: number;
      to?: number;
      limit?: number;
      offset?: number;
    };
  }>(
    '/api/runs/:run/snapshots',
    {
      config: CACHED,
      schema: { params: S.runParams, querystring: S.snapshotsQuery, response: { 200: S.snapshotsResponse } },
    },
    async (req) => reader.listSnapshots({ run: req.params.run, ...req.query }).map(finiteSummary),
  );

  app.get<{ Params: { id: number } }>(
    '/api/snapshots/:id',
    { schema: { params: S.idParams, response: { 200: S.snapshotInfo } } },
    async (req) => {
      const info = reader.getSnapshot(req.params.id);
      if (info === undefined) throw notFound(`no snapshot with id ${req.params.id}`);
      return finiteSummary(info);
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/snapshots/:id/tensor',
    { schema: { params: S.idParams } },
    async (req, reply) => {
      const bytes = reader.getTensor(req.params.id);
      // A snapshot's bytes never change once written.
      const etag = `"${req.params.id}-${bytes.byteLength}"`;
      reply.header('etag', etag).header('cache-control', 'private, max-age=31536000, immutable');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type(ARROW_STREAM).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/snapshots/:id/summary',
    { schema: { params: S.idParams, response: { 200: S.summaryResponse } } },
    async (req) => {
      const summary = reader.getSummary(req.params.id);
      if (summary === undefined) throw notFound(`no snapshot with id ${req.params.id}`);
      return summaryJson(summary);
    },
  );

  app.get<Series>(
    '/api/runs/:run/flow',
    {
      config: CACHED,
      schema: { params: S.runParams, querystring: S.seriesQuery, response: { 200: S.flowResponse } },
    },
    async (req) => {
      const { layer, kind, part, max } = req.query;
      const flow = reader.flowMatrix(req.params.run, layer, kind, part ?? null);
      const rows = evenRows(flow.iterations.length, max ?? 500);
      const shape = [rows.length, flow.timesteps];
      return {
        ids: rows.map((r) => flow.ids[r]!),
        iterations: rows.map((r) => flow.iterations[r]!),
        timesteps: flow.timesteps,
        norms: matrix(pickRows(flow.norms, rows, flow.timesteps), shape),
        ...(flow.parts
          ? {
              parts: Object.fromEntries(
                Object.entries(flow.parts).map(([k, m]) => [
                  k,
                  matrix(pickRows(m, rows, flow.timesteps), shape),
                ]),
              ),
            }
          : {}),
      };
    },
  );

  app.get<Series>(
    '/api/runs/:run/histograms',
    {
      config: CACHED,
      schema: { params: S.runParams, querystring: S.seriesQuery, response: { 200: S.histogramsResponse } },
    },
    async (req) => {
      const { layer, kind, part, max } = req.query;
      const h = reader.histogramSeries(req.params.run, layer, kind, part ?? null);
      const rows = evenRows(h.iterations.length, max ?? 200);
      const buckets = h.edges.length - 1;
      const p = h.percentiles.p.length;
      return {
        ids: rows.map((r) => h.ids[r]!),
        iterations: rows.map((r) => h.iterations[r]!),
        edges: numbers(h.edges),
        counts: matrix(pickRows(h.counts, rows, buckets), [rows.length, buckets]),
        percentiles: {
          p: h.percentiles.p,
          values: matrix(Float32Array.from(pickRows(h.percentiles.values, rows, p)), [rows.length, p]),
        },
      };
    },
  );

  app.get<{
    Params: { run: string };
    Querystring: {
      format?: 'arrow' | 'parquet';
      layout?: 'tensor' | 'long';
      layer?: string;
      kind?: Kind;
      part?: string;
      iterations?: string;
    };
  }>(
    '/api/runs/:run/export',
    { schema: { params: S.runParams, querystring: S.exportQuery } },
    async (req, reply) => {
      const { format = 'arrow', layer, kind, part } = req.query;
      const layout =
        req.query.layout ??
        (format === 'parquet' || layer === undefined || kind === undefined ? 'long' : 'tensor');
      const run = reader.getRun(req.params.run);
      if (run === undefined) throw notFound(`no run with id or name '${req.params.run}'`);
      const iterations = req.query.iterations?.split(',').map(Number);
      const selection = { run: run.id, layer, kind, ...(part !== undefined ? { part } : {}), iterations };
      // Check the selection before the first byte goes out, so errors are still a 4xx.
      if (reader.listSnapshots({ ...selection, limit: 1 }).length === 0) {
        throw new StoreError(
          'ENOTFOUND',
          `run '${run.name}' has no snapshot matching ${JSON.stringify(req.query)}`,
        );
      }
      const name = `${run.name}${layer ? `-${layer}` : ''}${kind ? `-${kind}` : ''}`.replace(
        /[^\w.-]+/g,
        '_',
      );
      reply
        .type(format === 'parquet' ? 'application/vnd.apache.parquet' : 'application/vnd.apache.arrow.file')
        .header(
          'content-disposition',
          `attachment; filename="${name}.${format === 'parquet' ? 'parquet' : 'arrow'}"`,
        );
      reply.hijack();
      reply.raw.writeHead(200, reply.getHeaders() as Record<string, string>);
      try {
        await exportRunToStream(reader, { ...selection, format, layout }, reply.raw);
      } finally {
        reply.raw.end();
      }
    },
  );

  app.get<{ Querystring: { run?: string } }>(
    '/api/events',
    { schema: { querystring: S.eventsQuery } },
    async (req, reply) => {
      const run = req.query.run === undefined ? undefined : reader.getRun(req.query.run)?.id;
      if (req.query.run !== undefined && run === undefined)
        throw notFound(`no run with id or name '${req.query.run}'`);
      hub.subscribe(reply, run, reply.getHeaders() as Record<string, string>);
    },
  );

  if (store !== undefined) registerIngest(app, store, hub, options.ingestLimit ?? 256 * 2 ** 20);

  if (options.viewerDir !== undefined) {
    await app.register(fastifyStatic, { root: options.viewerDir, index: 'index.html', wildcard: false });
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain').send('gradscope API: the viewer is not built (pnpm build), see /api/runs'),
    );
  }
}

function registerIngest(app: FastifyInstance, store: Store, hub: EventHub, bodyLimit: number): void {
  app.addContentTypeParser(ARROW_STREAM, { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
    done(null, body),
  );

  app.post('/api/ingest', { bodyLimit }, async (req: FastifyRequest, reply) => {
    if (!Buffer.isBuffer(req.body)) {
      throw new HttpError(415, `expected Content-Type ${ARROW_STREAM} (one snapshot as an Arrow IPC stream)`);
    }
    let snapshot: ReturnType<typeof snapshotFromIpc>;
    try {
      snapshot = snapshotFromIpc(
        new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength),
        'request body',
      );
    } catch (err) {
      throw badRequest(err instanceof Error ? err.message : String(err));
    }
    await store.write(snapshot);
    await store.flush();
    return reply.code(201).send({ ok: true });
  });

  app.post<{ Body: RunInfo }>(
    '/api/ingest/runs',
    { schema: { body: S.ingestRunBody } },
    async (req, reply) => {
      await store.startRun(req.body);
      await store.flush();
      hub.publish([
        { type: 'run', run: req.body.id, data: { id: req.body.id, name: req.body.name, status: 'running' } },
      ]);
      return reply.code(201).send({ ok: true });
    },
  );

  app.post<{ Params: { run: string }; Body: { status: RunStatus } }>(
    '/api/ingest/runs/:run/end',
    { schema: { params: S.runParams, body: S.endRunBody } },
    async (req) => {
      await store.endRun(req.params.run, req.body.status);
      await store.flush();
      return { ok: true };
    },
  );
}

const CACHED = { cache: true };
const CACHE_ENTRIES = 256;

/**
 * Serialised responses of the read routes marked CACHED, by URL, valid while the database is unchanged
 * (SQLite's data_version moves on every commit by another connection, the trainers' and the ingest
 * writer's included). Overviews are read far more often than they change, most of all by a viewer
 * following a run or by several viewers at once.
 */
function installResponseCache(app: FastifyInstance, reader: Reader): void {
  // Bodies are kept as Buffers: writing a string re-encodes it to UTF-8 on every send.
  const cache = new Map<string, { version: number; body: Buffer }>();
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'GET' || (req.routeOptions.config as { cache?: boolean }).cache !== true) return;
    const hit = cache.get(req.url);
    if (hit === undefined) return;
    if (hit.version !== reader.dataVersion()) {
      cache.delete(req.url);
      return;
    }
    cache.delete(req.url); // re-insert: most recently used last
    cache.set(req.url, hit);
    return reply.type('application/json; charset=utf-8').header('x-gradscope-cache', 'hit').send(hit.body);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const cacheable = (req.routeOptions.config as { cache?: boolean } | undefined)?.cache === true;
    if (
      !cacheable ||
      reply.statusCode !== 200 ||
      typeof payload !== 'string' ||
      reply.getHeader('x-gradscope-cache')
    )
      return payload;
    cache.set(req.url, { version: reader.dataVersion(), body: Buffer.from(payload) });
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    return payload;
  });
}

/** Live-update polling: new snapshots by id, run changes by status and count. Cheap when nothing changed. */
function pollChanges(reader: Reader): () => LiveEvent[] {
  let version = -1;
  let lastId = 0;
  let runs = new Map<string, string>();
  return () => {
    const v = reader.dataVersion();
    if (v === version) return [];
    version = v;
    const events: LiveEvent[] = [];
    const current = reader.listRuns();
    const next = new Map(current.map((r) => [r.id, `${r.status}`]));
    for (const r of current) {
      if (runs.get(r.id) !== next.get(r.id))
        events.push({ type: 'run', run: r.id, data: { id: r.id, name: r.name, status: r.status } });
    }
    const first = lastId === 0 && runs.size === 0;
    runs = next;
    for (;;) {
      const batch = reader.snapshotsAfter(lastId, 1000);
      if (batch.length === 0) break;
      lastId = batch[batch.length - 1]!.id;
      if (first) continue; // the baseline: only what lands from now on is news
      for (const s of batch) {
        events.push({
          type: 'snapshot',
          run: s.run,
          data: { id: s.id, run: s.run, layer: s.layer, kind: s.kind, part: s.part, iteration: s.iteration },
        });
      }
    }
    return first ? [] : events;
  };
}

const nullIfNaN = (v: number) => (Number.isFinite(v) ? v : null);
const numbers = (a: ArrayLike<number>) => Array.from(a, nullIfNaN);

/** JSON has no NaN: statistics of an all-non-finite tensor go out as null. */
function finiteSummary(info: SnapshotInfo): unknown {
  return {
    ...info,
    summary: Object.fromEntries(Object.entries(info.summary).map(([k, v]) => [k, nullIfNaN(v)])),
  };
}

function summaryJson(s: SnapshotSummary): unknown {
  const one = (p: Omit<SnapshotSummary, 'parts'>) => ({
    ...Object.fromEntries(
      Object.entries(p)
        .filter(([, v]) => typeof v === 'number')
        .map(([k, v]) => [k, nullIfNaN(v as number)]),
    ),
    timestepNorms: p.timestepNorms && numbers(p.timestepNorms),
    channelNorms: p.channelNorms && numbers(p.channelNorms),
    histogram: { edges: numbers(p.histogram.edges), counts: Array.from(p.histogram.counts) },
  });
  return {
    ...one(s),
    ...(s.parts ? { parts: Object.fromEntries(Object.entries(s.parts).map(([k, p]) => [k, one(p)])) } : {}),
  };
}

/** At most `max` row indices of `n`, evenly spread, always the first and the last (long runs stay light). */
function evenRows(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
}

function pickRows<T extends Float32Array | Float64Array | Uint32Array>(
  m: T,
  rows: number[],
  width: number,
): T {
  if (rows.length * width === m.length) return m;
  const out = new (m.constructor as new (n: number) => T)(rows.length * width);
  for (const [i, r] of rows.entries()) out.set(m.subarray(r * width, (r + 1) * width), i * width);
  return out;
}

/** A typed array as JSON: its little-endian bytes in base64 (see docs/api.md). */
function matrix(a: Float32Array | Uint32Array, shape: number[]) {
  return {
    dtype: a instanceof Float32Array ? 'float32' : 'uint32',
    shape,
    base64: Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64'),
  };
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}
const notFound = (message: string) => new HttpError(404, message);
const badRequest = (message: string) => new HttpError(400, message);

const STATUS_OF: Partial<Record<StoreError['code'], number>> = {
  ENOTFOUND: 404,
  EINVAL: 400,
  EFULL: 507,
  EREADONLY: 503,
  EBUSY: 503,
};

function errorHandler(
  err: Error & { statusCode?: number; validation?: unknown },
  _req: FastifyRequest,
  reply: FastifyReply,
) {
  const status =
    err instanceof StoreError
      ? (STATUS_OF[err.code] ?? 500)
      : err instanceof HttpError
        ? err.statusCode
        : (err.statusCode ?? 500);
  const names: Record<number, string> = {
    400: 'Bad Request',
    404: 'Not Found',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
  };
  if (status >= 500) reply.log.error(err);
  if (reply.sent || reply.raw.headersSent) return;
  reply.code(status).send({
    error: names[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error'),
    message: err.message,
  });
}

/** The gradscope routes as a Fastify plugin (fastify-plugin: hooks and decorators apply to the app it is registered in). */
export const gradscopePlugin = fp(gradscope, { fastify: '5.x', name: '@gradscope/server' });
