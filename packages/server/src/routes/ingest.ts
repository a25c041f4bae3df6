// Remote ingest: trainers on other machines (HttpSink) post runs and snapshots, and the server writes them
// into its store. Bodies are bounded one by one (bodyLimit) and all together (the bytes of ingest bodies
// being received or decoded at once): beyond that a trainer is told 503 and when to retry, so a burst of
// large snapshots cannot take the server's memory.
import {
  ARROW_STREAM_TYPE as ARROW_STREAM,
  type RunInfo,
  type ScalarPoint,
  type WrittenRunStatus,
} from '@gradscope/format';
import { type RunWriter, snapshotFromIpc } from '@gradscope/store';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, httpError } from '../errors.js';
import type { EventHub } from '../events.js';
import * as S from '../schemas.js';

/** Largest body of one POST /api/runs/:run/scalars, bytes. */
const SCALARS_BODY_LIMIT = 8 * 2 ** 20;

/** Longest name (run, layer, layer class, part, dim, channel part) a snapshot may carry, in characters. */
export const MAX_NAME_LENGTH = 512;

export interface IngestRouteOptions {
  store: RunWriter;
  hub: EventHub;
  /** Largest body of one POST /api/ingest, bytes. */
  bodyLimit: number;
  /** Bytes of ingest bodies in flight at once (Content-Length, or bodyLimit when it is not sent). */
  maxInflightBytes: number;
}

export function ingestRoutes(app: FastifyInstance, options: IngestRouteOptions): void {
  const { store, hub, bodyLimit } = options;
  const inflight = { bytes: 0 };
  const admit = admission(inflight, options.maxInflightBytes, bodyLimit);

  // The body goes straight into one buffer of its declared length: Fastify's own buffer parser keeps the
  // socket's chunks and then concatenates them, two copies of every body at its peak.
  app.addContentTypeParser(ARROW_STREAM, (req: FastifyRequest, payload: AsyncIterable<Buffer>) =>
    readBody(payload, req.headers['content-length'], bodyLimit),
  );

  app.post('/api/ingest', { bodyLimit, onRequest: admit }, async (req: FastifyRequest, reply) => {
    if (!Buffer.isBuffer(req.body)) {
      throw httpError(415, `expected Content-Type ${ARROW_STREAM} (one snapshot as an Arrow IPC stream)`);
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
    checkNames(snapshot);
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

  app.post<{ Params: { run: string }; Body: { status: WrittenRunStatus } }>(
    '/api/ingest/runs/:run/end',
    { schema: { params: S.runParams, body: S.endRunBody } },
    async (req) => {
      await store.endRun(req.params.run, req.body.status);
      await store.flush();
      return { ok: true };
    },
  );

  app.post<{
    Params: { run: string };
    Body: { points: (Omit<ScalarPoint, 'value'> & { value: number | null })[] };
  }>(
    '/api/runs/:run/scalars',
    // 10,000 points of up to 256-character names: a few MiB at most.
    {
      bodyLimit: SCALARS_BODY_LIMIT,
      onRequest: admission(inflight, options.maxInflightBytes, SCALARS_BODY_LIMIT),
      schema: { params: S.runParams, body: S.scalarsBody },
    },
    async (req, reply) => {
      const points = req.body.points.map((p) => ({
        ...p,
        value: typeof p.value === 'string' ? Number(p.value) : (p.value ?? Number.NaN),
      }));
      await store.writeScalars(req.params.run, points);
      return reply.code(201).send({ ok: true });
    },
  );
}

/**
 * An onRequest hook admitting an ingest body while the bytes in flight stay within `maxBytes` (one body is
 * always admitted when nothing else is in flight), else 503 with Retry-After. The reservation is released
 * when the response is done or the connection drops.
 */
function admission(inflight: { bytes: number }, maxBytes: number, bodyLimit: number) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const declared = Number(req.headers['content-length']);
    // An oversized body is refused by Fastify's bodyLimit (413) before it is read: no reservation needed.
    if (Number.isFinite(declared) && declared > bodyLimit) return;
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : bodyLimit;
    if (inflight.bytes > 0 && inflight.bytes + bytes > maxBytes) {
      throw httpError(
        503,
        `the server is receiving ${mib(inflight.bytes)} of ingest bodies already (at most ${mib(maxBytes)} at once): retry shortly`,
        { 'retry-after': '1' },
      );
    }
    inflight.bytes += bytes;
    let released = false;
    reply.raw.once('close', () => {
      if (released) return;
      released = true;
      inflight.bytes -= bytes;
    });
  };
}

/**
 * Reads a request body into one Buffer: of its Content-Length when declared (413 beyond `limit`, 400 when
 * the body ends short of it), else grown by doubling up to `limit`.
 */
async function readBody(
  payload: AsyncIterable<Buffer>,
  contentLength: unknown,
  limit: number,
): Promise<Buffer> {
  const tooLarge = () =>
    httpError(413, `the body is larger than this route's limit of ${limit} bytes (ingestLimit)`);
  const declared =
    typeof contentLength === 'string' && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (declared !== undefined && declared > limit) throw tooLarge();
  let body = Buffer.allocUnsafeSlow(declared ?? Math.min(limit, 64 * 2 ** 10));
  let length = 0;
  for await (const chunk of payload) {
    if (length + chunk.length > body.length) {
      if (declared !== undefined)
        throw badRequest(`the body is longer than its Content-Length (${declared})`);
      if (length + chunk.length > limit) throw tooLarge();
      const grown = Buffer.allocUnsafeSlow(Math.min(limit, Math.max(body.length * 2, length + chunk.length)));
      body.copy(grown, 0, 0, length);
      body = grown;
    }
    chunk.copy(body, length);
    length += chunk.length;
  }
  if (declared !== undefined && length !== declared)
    throw badRequest(`the body ended after ${length} of the ${declared} bytes its Content-Length declares`);
  return length === body.length ? body : body.subarray(0, length);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Names longer than MAX_NAME_LENGTH are refused: they would be stored, indexed and sent with every row. */
function checkNames(s: ReturnType<typeof snapshotFromIpc>): void {
  const named: [string, unknown][] = [
    ['run', s.run],
    ['layer', s.layer],
    ['layerClass', s.layerClass],
    ['part', s.part],
    ...s.dims.map((d, i): [string, unknown] => [`dims[${i}]`, d]),
    ...(s.channelParts ?? []).map((p, i): [string, unknown] => [`channelParts[${i}]`, p]),
  ];
  for (const [field, value] of named) {
    if (typeof value === 'string' && value.length > MAX_NAME_LENGTH) {
      throw badRequest(
        `snapshot.${field} is ${value.length} characters long: names are at most ${MAX_NAME_LENGTH} characters (starts ${JSON.stringify(value.slice(0, 40))})`,
      );
    }
  }
}
