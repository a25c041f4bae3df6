// The read routes: runs, layers, snapshot index, tensors, summaries, flow and histogram matrices, live
// updates. Each asks the store's reader (the data provider) and shapes its answer for the viewer.

import type { DiagnosisResponse } from '@gradscope/format';
import { ARROW_STREAM_TYPE as ARROW_STREAM, encodeMatrix, SERIES_COLUMNS } from '@gradscope/format';
import {
  diagnoseRun,
  type Kind,
  type RunReader,
  type SeriesKey,
  type SnapshotInfo,
  type SnapshotSummary,
} from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import { CACHED, CACHED_LIVE } from '../cache.js';
import { notFound } from '../errors.js';
import type { EventHub } from '../events.js';
import { finiteOrNull } from '../json.js';
import * as S from '../schemas.js';

type Series = {
  Params: { run: string };
  Querystring: { layer: string; kind: Kind; part?: string; max?: number };
};

export function readRoutes(
  app: FastifyInstance,
  { reader, hub }: { reader: RunReader; hub: EventHub },
): void {
  app.get('/api/health', async () => ({ ok: true }));

  // Runs carry their status ('interrupted' is derived at read time): cached only briefly (CACHED_LIVE).
  app.get('/api/runs', { config: CACHED_LIVE, schema: { response: { 200: S.runsResponse } } }, async () =>
    reader.listRuns(),
  );

  app.get<{ Params: { run: string } }>(
    '/api/runs/:run',
    {
      config: CACHED_LIVE,
      schema: { params: S.runParams, response: { 200: S.runResponse, 404: S.errorResponse } },
    },
    async (req) => {
      const run = await reader.getRun(req.params.run);
      if (run === undefined) throw notFound(`no run with id or name '${req.params.run}'`);
      return run;
    },
  );

  // The diagnosis of every recurrent layer (the same JSON as `gradscope doctor --json` for one run). Non-finite
  // evidence (a NaN loss) is sent as null, as JSON.stringify does.
  app.get<{ Params: { run: string } }>(
    '/api/runs/:run/diagnosis',
    { config: CACHED_LIVE, schema: { params: S.runParams } },
    async (req): Promise<DiagnosisResponse> => {
      if ((await reader.getRun(req.params.run)) === undefined)
        throw notFound(`no run with id or name '${req.params.run}'`);
      return { runs: [await diagnoseRun(reader, req.params.run)] };
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
    async (req) => (await reader.listSnapshots({ run: req.params.run, ...req.query })).map(finiteInfo),
  );

  app.get<{ Params: { id: number } }>(
    '/api/snapshots/:id',
    { schema: { params: S.idParams, response: { 200: S.snapshotInfo } } },
    async (req) => {
      const info = await reader.getSnapshot(req.params.id);
      if (info === undefined) throw notFound(`no snapshot with id ${req.params.id}`);
      return finiteInfo(info);
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/snapshots/:id/tensor',
    { schema: { params: S.idParams } },
    async (req, reply) => {
      const bytes = await reader.getTensor(req.params.id);
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
      const summary = await reader.getSummary(req.params.id);
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
      const flow = await reader.flowMatrix(seriesKey(req), { maxRows: req.query.max ?? 500 });
      const shape = [flow.ids.length, flow.timesteps];
      return {
        ids: flow.ids,
        iterations: flow.iterations,
        count: flow.count,
        timesteps: flow.timesteps,
        norms: encodeMatrix(flow.norms, shape),
        horizon: flow.horizon,
        t0Ratio: flow.t0Ratio,
        ...(flow.parts
          ? {
              parts: Object.fromEntries(
                Object.entries(flow.parts).map(([k, m]) => [k, encodeMatrix(m, shape)]),
              ),
            }
          : {}),
        ...(flow.partHorizons ? { partHorizons: flow.partHorizons } : {}),
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
      const h = await reader.histogramSeries(seriesKey(req), { maxRows: req.query.max ?? 200 });
      const rows = h.ids.length;
      const buckets = h.edges.length - 1;
      const p = h.percentiles.p.length;
      return {
        ids: h.ids,
        iterations: h.iterations,
        count: h.count,
        edges: numbers(h.edges),
        counts: encodeMatrix(h.counts, [rows, buckets]),
        percentiles: {
          p: h.percentiles.p,
          values: encodeMatrix(Float32Array.from(h.percentiles.values), [rows, p]),
        },
        ...(h.parts
          ? {
              parts: Object.fromEntries(
                Object.entries(h.parts).map(([k, m]) => [k, encodeMatrix(m, [rows, buckets])]),
              ),
            }
          : {}),
      };
    },
  );

  app.get<Series>(
    '/api/runs/:run/series',
    {
      config: CACHED,
      schema: { params: S.runParams, querystring: S.seriesQuery, response: { 200: S.seriesResponse } },
    },
    async (req) => {
      const index = await reader.seriesIndex(seriesKey(req), { maxRows: req.query.max ?? SERIES_ROWS });
      const out: Record<string, unknown> = { count: index.count, rows: index.ids.length };
      for (const column of SERIES_COLUMNS) out[column] = encodeMatrix(index[column], [index.ids.length]);
      return out;
    },
  );

  app.get<{ Params: { run: string }; Querystring: { maxPoints?: number } }>(
    '/api/runs/:run/scalars',
    {
      config: CACHED,
      schema: { params: S.runParams, querystring: S.scalarsQuery, response: { 200: S.scalarsResponse } },
    },
    async (req) => ({
      series: (await reader.scalars(req.params.run, { maxPoints: req.query.maxPoints ?? SCALAR_POINTS })).map(
        (s) => ({
          name: s.name,
          count: s.count,
          iterations: encodeMatrix(s.iterations, [s.iterations.length]),
          values: encodeMatrix(s.values, [s.values.length]),
          times: encodeMatrix(s.times, [s.times.length]),
        }),
      ),
    }),
  );

  app.get<{ Querystring: { run?: string } }>(
    '/api/events',
    { schema: { querystring: S.eventsQuery } },
    async (req, reply) => {
      const run = req.query.run === undefined ? undefined : (await reader.getRun(req.query.run))?.id;
      if (req.query.run !== undefined && run === undefined)
        throw notFound(`no run with id or name '${req.query.run}'`);
      hub.subscribe(reply, run, reply.getHeaders() as Record<string, string>);
    },
  );
}

/** Default rows of the series index: enough for a slider and a table page, bounded for 50,000-snapshot runs. */
const SERIES_ROWS = 2000;
/** Default points per scalar series: a chart a few thousand pixels wide, spikes kept. */
const SCALAR_POINTS = 10_000;

const seriesKey = (req: { params: { run: string }; query: Series['Querystring'] }): SeriesKey => ({
  run: req.params.run,
  layer: req.query.layer,
  kind: req.query.kind,
  part: req.query.part ?? null,
});

const numbers = (a: ArrayLike<number>) => Array.from(a, finiteOrNull);

/** JSON has no NaN: a NaN loss, or statistics of an all-non-finite tensor, go out as null. */
function finiteInfo(info: SnapshotInfo): unknown {
  // Most rows are finite: those go out as they are, without a copy (an index can have 50,000 rows).
  const summary = info.summary as unknown as Record<string, unknown>;
  let finite = info.loss === null || Number.isFinite(info.loss);
  for (const k in summary) {
    const v = summary[k];
    if (typeof v === 'number' && !Number.isFinite(v)) finite = false;
  }
  if (finite) return info;
  const clean: Record<string, unknown> = {};
  for (const k in summary) {
    const v = summary[k];
    clean[k] = typeof v === 'number' ? finiteOrNull(v) : v;
  }
  return { ...info, loss: finiteOrNull(info.loss), summary: clean };
}

function summaryJson(s: SnapshotSummary): unknown {
  const one = (p: Omit<SnapshotSummary, 'parts'>) => ({
    ...Object.fromEntries(
      Object.entries(p)
        .filter(([, v]) => typeof v === 'number' || v === null)
        .map(([k, v]) => [k, v === null ? null : finiteOrNull(v as number)]),
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
