// Public record types of the store. The write-side records (Snapshot, RunInfo, …) come from
// @gradscope/capture as types only: the store never loads tfjs.
import type { Kind, ModelSummary, RunInfo, RunStatus, SnapshotMeta } from '@gradscope/capture';

export type {
  Dim,
  Kind,
  ModelSummary,
  RunInfo,
  RunStatus,
  Sink,
  Snapshot,
  SnapshotMeta,
} from '@gradscope/capture';

/** A run as stored (GET /api/runs). */
export interface RunRecord {
  id: string;
  name: string;
  /** Wall-clock ms since the epoch. */
  startedAt: number;
  /** When the last `endRun` was recorded (ms since the epoch), or null while running. */
  endedAt: number | null;
  status: RunStatus;
  backend: string;
  tfjsVersion: string;
  host: string;
  /** Number of snapshots stored for the run. */
  snapshots: number;
  /** Highest iteration stored, or null when the run has no snapshot yet. */
  lastIteration: number | null;
  /** Distinct layer names with snapshots, in first-recorded order. */
  layers: string[];
  /** The run's free-form metadata (RunInfo.meta; `{}` when none), e.g. the demo's gallery entries. */
  meta: Record<string, unknown>;
}

/** A run with its model summary and capture options (GET /api/runs/:run). */
export interface RunDetails extends RunRecord {
  model: ModelSummary;
  options: RunInfo['options'];
}

/** What one layer of a run holds (GET /api/runs/:run/layers). */
export interface LayerInfo {
  layer: string;
  layerClass: string;
  /** Each recorded kind with its parts, `null` standing for the whole layer output. */
  kinds: Partial<Record<Kind, (string | null)[]>>;
  /** Distinct recorded parts over all kinds (`null` = whole layer output). */
  parts: (string | null)[];
  /** Distinct iterations with at least one snapshot of this layer, ascending. */
  iterations: number[];
  /** `iterations.length`. */
  iterationCount: number;
  /** Snapshots of this layer (all kinds and parts). */
  snapshots: number;
  /** Present for a bidirectional layer whose channels concatenate the directions. */
  channelParts?: string[];
}

/** The scalar statistics of a tensor (or of one channel part of it). Non-finite values are left out of all of them. */
export interface ScalarSummary {
  /** L2 norm sqrt(Σ g²) over the finite values. */
  l2: number;
  /** max |g| over the finite values (0 when there are none). */
  maxAbs: number;
  /** Smallest finite value (0 when there are none). */
  min: number;
  /** Largest finite value (0 when there are none). */
  max: number;
  /** Mean of the finite values (0 when there are none). */
  mean: number;
  /** Population standard deviation (ddof = 0) of the finite values. */
  std: number;
  /** NaN and ±Infinity values. */
  nonFinite: number;
  /** Number of values, finite or not. */
  count: number;
}

/** Everything computed at write time for one tensor or one of its channel parts. */
export interface TensorSummary extends ScalarSummary {
  /** '' for the whole tensor, else the channel part ('forward', 'backward'). */
  channelPart: string;
  /** L2 norm per timestep (over every other axis), or null when the tensor has no 'timestep' axis. */
  timestepNorms: Float32Array | null;
  /** L2 norm per index of the last axis (over every other axis), or null for a rank-0 tensor or when the last axis is 'timestep'. */
  channelNorms: Float32Array | null;
  /** Bucket counts over HISTOGRAM_EDGES (see histogram.ts); non-finite values are not counted. */
  histogram: Uint32Array;
}

/** One row of the snapshot index (GET /api/runs/:run/snapshots). */
export interface SnapshotInfo {
  id: number;
  run: string;
  iteration: number;
  epoch: number;
  batch: number;
  layer: string;
  layerClass: string;
  kind: Kind;
  /** null for the whole layer output. */
  part: string | null;
  channelParts: string[] | null;
  shape: number[];
  dims: string[];
  loss: number;
  time: number;
  /** As reported by the capture (Snapshot.nonFinite). */
  nonFinite: number;
  /** Bytes of the stored Arrow IPC payload. */
  payloadBytes: number;
  /** Whole-tensor scalar statistics computed at write time. */
  summary: ScalarSummary;
}

/** Full summary of one snapshot (GET /api/snapshots/:id/summary). */
export interface SnapshotSummary extends ScalarSummary {
  timestepNorms: Float32Array | null;
  channelNorms: Float32Array | null;
  histogram: { edges: Float64Array; counts: Uint32Array };
  /** Per channel part, when the snapshot has channelParts. */
  parts?: Record<string, Omit<SnapshotSummary, 'parts'>>;
}

/** Per-timestep L2 norms over training: `norms[i * timesteps + t]` is iteration `iterations[i]`, timestep t. */
export interface FlowMatrix {
  /** Snapshot ids, one per row. */
  ids: number[];
  iterations: number[];
  timesteps: number;
  /** iterations.length × timesteps, iteration-major. NaN pads rows with fewer timesteps. */
  norms: Float32Array;
  /** The same matrix per channel part (bidirectional concat layers). */
  parts?: Record<string, Float32Array>;
}

/** Per-channel L2 norms over training: `norms[i * channels + c]`. */
export interface ChannelMatrix {
  ids: number[];
  iterations: number[];
  channels: number;
  norms: Float32Array;
}

/** Histograms over training (GET /api/runs/:run/histograms). */
export interface HistogramSeries {
  ids: number[];
  iterations: number[];
  /** B + 1 bucket edges (the same for every snapshot; see HISTOGRAM_EDGES). */
  edges: Float64Array;
  /** iterations.length × B counts, iteration-major. */
  counts: Uint32Array;
  /** Percentiles interpolated from the histograms (TensorBoard's distribution basis points). */
  percentiles: { p: number[]; values: Float64Array };
  parts?: Record<string, Uint32Array>;
}

/** A tensor decoded from its Arrow IPC payload. */
export interface DecodedTensor {
  shape: number[];
  dims: string[];
  /** Row-major values (a view into the payload bytes when they are aligned). */
  data: Float32Array;
  /** The other snapshot fields carried in the payload's `gradscope:snapshot` schema metadata, when present. */
  meta?: SnapshotMeta;
}

/** Filter of the snapshot index. Every given field must match. */
export interface SnapshotQuery {
  /** Run id or name. */
  run: string;
  layer?: string;
  kind?: Kind;
  /** Part; `null` selects whole-layer snapshots only; undefined selects all parts. */
  part?: string | null;
  /** Inclusive lower bound of the iteration. */
  from?: number;
  /** Inclusive upper bound of the iteration. */
  to?: number;
  /** Only these iterations. */
  iterations?: number[];
  limit?: number;
  offset?: number;
}
