// The HTTP API's bodies as JSON (docs/api.md): what the server's routes send and the viewer reads. JSON has no
// NaN or ±Infinity, so non-finite numbers travel as null; typed arrays travel as EncodedMatrix.
import type { Cause, DoctorReport, Verdict } from './diagnosis.js';
import type { WrittenRunStatus } from './kinds.js';
import type { EncodedMatrix } from './matrix.js';
import type {
  LayerInfo,
  RunDetails,
  RunInfo,
  RunRecord,
  ScalarPoint,
  ScalarSummary,
  SeriesIndex,
  SnapshotInfo,
} from './records.js';

/**
 * The port `gradscope serve` and `buildServer` listen on unless told otherwise: not TensorBoard's 6006, so both
 * can run side by side.
 */
export const DEFAULT_PORT = 6174;

/** `T` with every number field also allowed to be null (a non-finite value in JSON). */
export type Finite<T> = { [K in keyof T]: T[K] extends number ? number | null : T[K] };

/** Every error: `{ error, message }` with an HTTP status ≥ 400. */
export interface ErrorResponse {
  /** The status text, e.g. 'Not Found'. */
  error: string;
  /** What went wrong, in words a user can act on. */
  message: string;
}

/** GET /api/health. */
export interface HealthResponse {
  ok: true;
}

/** GET /api/runs: newest first. */
export type RunsResponse = RunRecord[];

/** GET /api/runs/:run (id or name). */
export type RunResponse = RunDetails;

/**
 * GET /api/runs/:run/diagnosis: `gradscope doctor --json` for one run. Non-finite evidence (a NaN loss) is
 * null in JSON.
 */
export type DiagnosisResponse = DoctorReport;

/**
 * One recurrent layer of a run in GET /api/outcomes: its verdict and the numbers it rests on (a summary of
 * the layer's diagnosis, LayerDiagnosis, without the per-iteration verdicts).
 */
export interface LayerOutcome {
  layer: string;
  layerClass: string;
  verdict: Verdict;
  causes: Cause[];
  /** The iteration the verdict is read at; null when nothing was recorded. */
  iteration: number | null;
  /** loss ÷ baseline at that iteration (null: no probe loss, or not finite). */
  lossRatio: number | null;
  /** The kind the verdict's reach rests on (decisiveReach: the jacobian when recorded, else input-grad). */
  reachKind: 'jacobian' | 'input-grad' | null;
  /** Its farthest lag (timesteps back) at ≥ 1% of its peak. */
  reach: number | null;
  /** Its largest norm beyond T/2 steps back ÷ its peak. */
  farRatio: number | null;
  /** Timesteps of its profile. */
  timesteps: number | null;
}

/** One run in GET /api/outcomes: its record (as GET /api/runs lists it) and the verdict of each recurrent layer. */
export interface RunOutcomeJson extends RunRecord {
  /** One per recurrent layer, in model order. */
  verdicts: LayerOutcome[];
  /** Why the run could not be diagnosed (then `verdicts` is empty); absent when it was. */
  diagnosisError?: string;
}

/**
 * GET /api/outcomes: every run, newest first, with its diagnosis summarized (the runs table's one request);
 * each run's diagnosis is computed once per state of the run (its snapshots, last iteration and end).
 */
export interface OutcomesResponse {
  runs: RunOutcomeJson[];
}

/** GET /api/runs/:run/layers. */
export type LayersResponse = LayerInfo[];

/** ScalarSummary in JSON: statistics of an all-non-finite tensor are null. */
export type ScalarSummaryJson = Finite<ScalarSummary>;

/** One row of the snapshot index in JSON (GET /api/snapshots/:id). */
export interface SnapshotInfoJson extends Omit<SnapshotInfo, 'loss' | 'summary'> {
  /** null when the loss was NaN or ±Infinity. */
  loss: number | null;
  summary: ScalarSummaryJson;
}

/** GET /api/runs/:run/snapshots. */
export type SnapshotsResponse = SnapshotInfoJson[];

/** One snapshot's (or channel part's) full summary in JSON. */
export interface SnapshotSummaryPartJson extends ScalarSummaryJson {
  timestepNorms: (number | null)[] | null;
  channelNorms: (number | null)[] | null;
  histogram: { edges: (number | null)[]; counts: number[] };
}

/** GET /api/snapshots/:id/summary. */
export interface SnapshotSummaryJson extends SnapshotSummaryPartJson {
  parts?: Record<string, SnapshotSummaryPartJson>;
}

/** The memory horizon of each row of a flow matrix (see ScalarSummary.horizon). */
export interface HorizonRows {
  horizon: (number | null)[];
  t0Ratio: (number | null)[];
}

/** GET /api/runs/:run/flow: per-timestep L2 norms over training, rows evenly downsampled to `max`. */
export interface FlowResponse extends HorizonRows {
  /** Snapshots in the series before downsampling (the rows are at most `max` of them). */
  count: number;
  /** Snapshot id of each row. */
  ids: number[];
  iterations: number[];
  timesteps: number;
  /** float32, [iterations.length, timesteps], iteration-major; NaN pads shorter rows. */
  norms: EncodedMatrix;
  /** The same per channel part (bidirectional concat layers). */
  parts?: Record<string, EncodedMatrix>;
  /** The horizon rows per channel part. */
  partHorizons?: Record<string, HorizonRows>;
}

/** GET /api/runs/:run/histograms. */
export interface HistogramsResponse {
  /** Snapshots in the series before downsampling. */
  count: number;
  ids: number[];
  iterations: number[];
  /** B + 1 bucket edges (±Infinity at the ends as null). */
  edges: (number | null)[];
  /** uint32, [iterations.length, B]. */
  counts: EncodedMatrix;
  /** values: float32, [iterations.length, p.length], iteration-major. */
  percentiles: { p: number[]; values: EncodedMatrix };
  /** uint32 counts per channel part (bidirectional concat layers), like `counts`. */
  parts?: Record<string, EncodedMatrix>;
}

/**
 * GET /api/runs/:run/series?layer&kind[&part][&max=N]: the snapshot index of one series as columns (SeriesIndex),
 * rows downsampled like the flow matrix to at most `max` (default 2000). Each column is a float64 EncodedMatrix
 * [rows]; NaN where a value is null (no loss, no horizon).
 */
/** The columns of GET /api/runs/:run/series, in the order the route writes them: one value per row each. */
export const SERIES_COLUMNS = [
  'ids',
  'iterations',
  'time',
  'loss',
  'l2',
  'maxAbs',
  'min',
  'max',
  'mean',
  'std',
  'nonFinite',
  'horizon',
  't0Ratio',
] as const satisfies readonly Exclude<keyof SeriesIndex, 'count'>[];

export type SeriesResponse = { count: number; rows: number } & {
  [K in Exclude<keyof SeriesIndex, 'count'>]: EncodedMatrix;
};

/** One training scalar over a run, as GET /api/runs/:run/scalars sends it. */
export interface ScalarSeriesJson {
  name: string;
  /** Points stored before downsampling. */
  count: number;
  /** float64, [n]. */
  iterations: EncodedMatrix;
  /** float64, [n]. */
  values: EncodedMatrix;
  /** float64, [n]: when each point was recorded, ms since the epoch (the viewer's wall-time x axis). */
  times: EncodedMatrix;
}

/** GET /api/runs/:run/scalars?maxPoints=N. */
export interface ScalarsResponse {
  series: ScalarSeriesJson[];
}

/** POST /api/runs/:run/scalars (at most 10,000 points). */
export interface ScalarsBody {
  points: ScalarPoint[];
}

/** POST /api/ingest/runs. */
export type IngestRunBody = RunInfo;

/** POST /api/ingest/runs/:run/end. */
export interface EndRunBody {
  status: WrittenRunStatus;
}

/** PATCH /api/runs/:run. */
export interface RenameRunBody {
  name: string;
}

/** The answer of the write routes (ingest, scalars, rename, delete). */
export interface OkResponse {
  ok: true;
}
