// Public record types of the store. The records it writes and reads are defined once in @gradscope/format
// (types only: the store never loads tfjs); the ones below are the store's own.
import type { Kind, ScalarSummary } from '@gradscope/format';

export type {
  CaptureOptions,
  DecodedTensor,
  Dim,
  FlowMatrix,
  HistogramSeries,
  Kind,
  LayerInfo,
  ModelSummary,
  RunDetails,
  RunInfo,
  RunRecord,
  RunStatus,
  ScalarPoint,
  ScalarSeries,
  ScalarSummary,
  Sink,
  Snapshot,
  SnapshotInfo,
  SnapshotMeta,
  SnapshotSummary,
  WrittenRunStatus,
} from '@gradscope/format';

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
  /** By iteration (then id), ascending (default) or descending: `to: I - 1, order: 'desc', limit: 1` is the snapshot before I. */
  order?: 'asc' | 'desc';
}
