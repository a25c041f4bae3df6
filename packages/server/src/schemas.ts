// JSON schemas of every route's parameters and responses: Fastify validates requests with them and
// serialises responses through them.
import {
  KINDS,
  MAX_GROUP_LENGTH,
  MAX_SNAPSHOT_INDEX,
  MAX_SNAPSHOT_TIME,
  SERIES_COLUMNS,
  WRITTEN_RUN_STATUSES,
} from '@gradscope/format';

const KIND = { type: 'string', enum: KINDS } as const;
const NAME = { type: 'string', minLength: 1, maxLength: 512 } as const;
/** Integers a JavaScript number holds exactly (and SQLite binds as an integer). */
const INT = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
/** An iteration as ingest takes it: the exports' int32 columns hold it exactly (as in a snapshot body). */
const ITERATION = { type: 'integer', minimum: 0, maximum: MAX_SNAPSHOT_INDEX } as const;
/** Wall-clock ms since the epoch, up to the latest a JavaScript Date holds. */
const TIME = { type: 'number', minimum: 0, maximum: MAX_SNAPSHOT_TIME } as const;
const NULLABLE_STRING = { type: ['string', 'null'] } as const;
const NUMBER_OR_NULL = { type: ['number', 'null'] } as const;
const NUMBERS = { type: 'array', items: NUMBER_OR_NULL } as const;
/** A run's group (RunInfo.group); the store checks it further (not blank). */
const GROUP = { type: 'string', minLength: 1, maxLength: MAX_GROUP_LENGTH } as const;
/** A run's params: a JSON object (RunInfo.params). */
const PARAMS = { type: 'object', additionalProperties: true } as const;

export const errorResponse = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } },
} as const;

export const runParams = {
  type: 'object',
  required: ['run'],
  properties: { run: NAME },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
} as const;

/** layer + kind (+ part) naming one series. */
export const seriesQuery = {
  type: 'object',
  required: ['layer', 'kind'],
  additionalProperties: false,
  properties: { layer: NAME, kind: KIND, part: NAME, max: { type: 'integer', minimum: 2, maximum: 100_000 } },
} as const;

export const snapshotsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    layer: NAME,
    kind: KIND,
    part: NAME,
    from: INT,
    to: INT,
    limit: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    offset: INT,
    order: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const;

export const exportQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    format: { type: 'string', enum: ['arrow', 'parquet'] },
    layout: { type: 'string', enum: ['tensor', 'long'] },
    layer: NAME,
    kind: KIND,
    part: NAME,
    iterations: { type: 'string', maxLength: 100_000, pattern: '^\\d{1,15}(,\\d{1,15})*$' },
  },
} as const;

export const eventsQuery = {
  type: 'object',
  properties: { run: NAME, token: { type: 'string' } },
} as const;

const run = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    startedAt: { type: 'number' },
    endedAt: NUMBER_OR_NULL,
    status: { type: 'string' },
    backend: { type: 'string' },
    tfjsVersion: { type: 'string' },
    host: { type: 'string' },
    snapshots: { type: 'integer' },
    lastIteration: { type: ['integer', 'null'] },
    layers: { type: 'array', items: { type: 'string' } },
    meta: { type: 'object', additionalProperties: true },
    group: { type: ['string', 'null'] },
    params: PARAMS,
  },
} as const;

export const runsResponse = { type: 'array', items: run } as const;

const layerOutcome = {
  type: 'object',
  properties: {
    layer: { type: 'string' },
    layerClass: { type: 'string' },
    verdict: { type: 'string' },
    causes: { type: 'array', items: { type: 'string' } },
    iteration: { type: ['integer', 'null'] },
    lossRatio: NUMBER_OR_NULL,
    reachKind: NULLABLE_STRING,
    reach: { type: ['integer', 'null'] },
    farRatio: NUMBER_OR_NULL,
    timesteps: { type: ['integer', 'null'] },
  },
} as const;

/** GET /api/outcomes: each run's record and the verdict of each of its recurrent layers. */
export const outcomesResponse = {
  type: 'object',
  properties: {
    runs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          ...run.properties,
          verdicts: { type: 'array', items: layerOutcome },
          diagnosisError: { type: 'string' },
        },
      },
    },
  },
} as const;

export const runResponse = {
  type: 'object',
  properties: {
    ...run.properties,
    model: { type: 'object', additionalProperties: true },
    options: { type: 'object', additionalProperties: true },
  },
} as const;

export const layersResponse = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      layer: { type: 'string' },
      layerClass: { type: 'string' },
      kinds: { type: 'object', additionalProperties: { type: 'array', items: NULLABLE_STRING } },
      parts: { type: 'array', items: NULLABLE_STRING },
      firstIteration: { type: 'integer' },
      lastIteration: { type: 'integer' },
      iterationCount: { type: 'integer' },
      snapshots: { type: 'integer' },
      channelParts: { type: 'array', items: { type: 'string' } },
    },
  },
} as const;

const scalarSummary = {
  l2: NUMBER_OR_NULL,
  maxAbs: NUMBER_OR_NULL,
  min: NUMBER_OR_NULL,
  max: NUMBER_OR_NULL,
  mean: NUMBER_OR_NULL,
  std: NUMBER_OR_NULL,
  nonFinite: { type: 'integer' },
  count: { type: 'integer' },
  horizon: NUMBER_OR_NULL,
  t0Ratio: NUMBER_OR_NULL,
} as const;

export const snapshotInfo = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    run: { type: 'string' },
    iteration: { type: 'integer' },
    epoch: { type: 'integer' },
    batch: { type: 'integer' },
    layer: { type: 'string' },
    layerClass: { type: 'string' },
    kind: { type: 'string' },
    part: NULLABLE_STRING,
    channelParts: { type: ['array', 'null'], items: { type: 'string' } },
    shape: { type: 'array', items: { type: 'integer' } },
    dims: { type: 'array', items: { type: 'string' } },
    loss: NUMBER_OR_NULL,
    time: { type: 'number' },
    nonFinite: { type: 'integer' },
    payloadBytes: { type: 'integer' },
    summary: { type: 'object', properties: scalarSummary },
  },
} as const;

export const snapshotsResponse = { type: 'array', items: snapshotInfo } as const;

const summaryBody = {
  ...scalarSummary,
  timestepNorms: { type: ['array', 'null'], items: NUMBER_OR_NULL },
  channelNorms: { type: ['array', 'null'], items: NUMBER_OR_NULL },
  histogram: {
    type: 'object',
    properties: { edges: NUMBERS, counts: { type: 'array', items: { type: 'integer' } } },
  },
} as const;

export const summaryResponse = {
  type: 'object',
  properties: {
    ...summaryBody,
    parts: { type: 'object', additionalProperties: { type: 'object', properties: summaryBody } },
  },
} as const;

const MATRIX = {
  type: 'object',
  properties: {
    dtype: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
    base64: { type: 'string' },
  },
} as const;

const NUMBERS_OR_NULL = { type: 'array', items: NUMBER_OR_NULL } as const;
const HORIZON_ROWS = { horizon: NUMBERS_OR_NULL, t0Ratio: NUMBERS_OR_NULL } as const;

export const flowResponse = {
  type: 'object',
  properties: {
    ids: { type: 'array', items: { type: 'integer' } },
    iterations: { type: 'array', items: { type: 'integer' } },
    count: { type: 'integer' },
    timesteps: { type: 'integer' },
    norms: MATRIX,
    ...HORIZON_ROWS,
    parts: { type: 'object', additionalProperties: MATRIX },
    partHorizons: {
      type: 'object',
      additionalProperties: { type: 'object', properties: HORIZON_ROWS },
    },
  },
} as const;

export const histogramsResponse = {
  type: 'object',
  properties: {
    ids: { type: 'array', items: { type: 'integer' } },
    iterations: { type: 'array', items: { type: 'integer' } },
    count: { type: 'integer' },
    edges: NUMBERS,
    counts: MATRIX,
    percentiles: {
      type: 'object',
      properties: { p: { type: 'array', items: { type: 'number' } }, values: MATRIX },
    },
    parts: { type: 'object', additionalProperties: MATRIX },
  },
} as const;

/** GET /api/runs/:run/series: the snapshot index of one series as float64 columns (NaN where none). */
export const seriesResponse = {
  type: 'object',
  properties: {
    count: { type: 'integer' },
    rows: { type: 'integer' },
    ...Object.fromEntries(SERIES_COLUMNS.map((c) => [c, MATRIX])),
  },
} as const;

export const scalarsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { maxPoints: { type: 'integer', minimum: 4, maximum: 1_000_000 } },
} as const;

export const scalarsResponse = {
  type: 'object',
  properties: {
    series: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          count: { type: 'integer' },
          iterations: MATRIX,
          values: MATRIX,
          times: MATRIX,
        },
      },
    },
  },
} as const;

/** Most points one POST /api/runs/:run/scalars may carry. */
export const MAX_SCALAR_POINTS = 10_000;

/** POST /api/runs/:run/scalars. JSON has no NaN or Infinity: NaN arrives as null, ±Infinity as a string. */
export const scalarsBody = {
  type: 'object',
  required: ['points'],
  additionalProperties: false,
  properties: {
    points: {
      type: 'array',
      maxItems: MAX_SCALAR_POINTS,
      items: {
        type: 'object',
        required: ['iteration', 'name', 'value', 'time'],
        additionalProperties: false,
        properties: {
          iteration: ITERATION,
          name: { type: 'string', minLength: 1, maxLength: 256 },
          value: { anyOf: [NUMBER_OR_NULL, { type: 'string', enum: ['Infinity', '-Infinity'] }] },
          time: TIME,
        },
      },
    },
  },
} as const;

/**
 * PATCH /api/runs/:run: a new name, group (null removes it) and params (keys set over the stored ones, a
 * null value removing its key); at least one of them.
 */
export const patchRunBody = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: { name: NAME, group: { anyOf: [GROUP, { type: 'null' }] }, params: PARAMS },
} as const;

export const okResponse = { type: 'object', properties: { ok: { type: 'boolean' } } } as const;

export const ingestRunBody = {
  type: 'object',
  required: ['id', 'name', 'startedAt', 'model', 'options', 'backend', 'tfjsVersion', 'host'],
  properties: {
    id: NAME,
    name: NAME,
    startedAt: TIME,
    model: { type: 'object' },
    options: { type: 'object' },
    backend: { type: 'string' },
    tfjsVersion: { type: 'string' },
    host: { type: 'string' },
    meta: { type: 'object' },
    group: GROUP,
    params: PARAMS,
  },
} as const;

export const endRunBody = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', enum: WRITTEN_RUN_STATUSES } },
} as const;
