// The records of gradscope: what the capture writes (Snapshot, RunInfo, ScalarPoint through a Sink) and what
// a store reader hands back (RunRecord, SnapshotInfo, FlowMatrix, …). Plain data, no behaviour.
import type { Dim, Kind, RunStatus, WrittenRunStatus } from './kinds.js';

/**
 * One tensor recorded for one layer at one iteration.
 *
 * `data` is row-major float32 with `shape`; `dims` names each axis. For a
 * bidirectional layer every time axis is in input time order (timestep t is
 * input position t), for either direction.
 */
export interface Snapshot {
  /** Id of the run this snapshot belongs to (see RunInfo.id). */
  run: string;
  /** Optimizer steps completed when the snapshot was taken, counted across epochs (0 for one-off captures). */
  iteration: number;
  /** Epoch index (0-based) in which the iteration ran. */
  epoch: number;
  /** Batch index (0-based) within the epoch. */
  batch: number;
  /** Layer name, e.g. 'lstm_1'. */
  layer: string;
  /** Layer class, e.g. 'LSTM', 'Bidirectional'. */
  layerClass: string;
  kind: Kind;
  /**
   * Which piece of the layer, as a '/'-joined path; undefined when the snapshot is the whole layer output.
   * - direction of a bidirectional layer with a non-concat merge: 'forward' | 'backward';
   * - weights: `[direction/]weight[/gate]`, e.g. 'kernel/i', 'recurrent_kernel/f', 'backward/bias/z'.
   */
  part?: string;
  /**
   * Names of equal-width channel blocks along the last axis, when the channels concatenate several
   * directions: ['forward', 'backward'] for a bidirectional layer with merge mode 'concat'.
   */
  channelParts?: string[];
  shape: number[];
  dims: Dim[];
  data: Float32Array;
  /** The loss the gradient is of: the probe loss in probe mode, the training batch loss in batch mode. */
  loss: number;
  /** Wall-clock time in ms since the epoch. */
  time: number;
  /** Number of NaN or ±Infinity values in `data` (the exploding-gradient signal). */
  nonFinite: number;
}

/** The snapshot fields besides the tensor, as carried in a payload's `gradscope:snapshot` metadata. */
export type SnapshotMeta = Omit<Snapshot, 'shape' | 'dims' | 'data'>;

/** Per-layer facts, the See RNN `rnn_summary`. */
export interface LayerSummary {
  index: number;
  name: string;
  className: string;
  /** Units of the recurrent cell (per direction for a bidirectional layer). */
  units?: number;
  returnSequences?: boolean;
  /** Only for Bidirectional layers. */
  mergeMode?: 'concat' | 'sum' | 'mul' | 'ave' | null;
  /** Class of the wrapped layer of a Bidirectional. */
  innerClassName?: string;
  /** Gate order along the last axis of the kernels: 'ifco' for LSTM, 'zrh' for GRU, '' for SimpleRNN. */
  gates?: string;
  /** GRU only. */
  resetAfter?: boolean;
  outputShape: (number | null)[] | (number | null)[][];
  /** True when the capture records this layer. */
  captured: boolean;
}

export interface ModelSummary {
  name: string;
  className: string;
  layers: LayerSummary[];
  inputShape: (number | null)[][];
  outputShape: (number | null)[][];
  /** Name of each output's loss function. */
  losses: string[];
  optimizer?: string;
}

/** How a run is captured (RunInfo.options). */
export interface CaptureOptions {
  mode: 'probe' | 'batch';
  every?: number;
  at?: number[];
  capture: Kind[];
  layers: string[];
}

/** The run-start record: what was trained, how, and where. */
export interface RunInfo {
  id: string;
  name: string;
  /** Wall-clock ms since the epoch. */
  startedAt: number;
  model: ModelSummary;
  options: CaptureOptions;
  backend: string;
  tfjsVersion: string;
  host: string;
  /** Free-form JSON the user attaches to the run (`gradientCallback({ runMeta })`), e.g. a description. */
  meta?: Record<string, unknown>;
  /**
   * The group the run belongs to (`gradientCallback({ group })`), e.g. the seed-free name of a configuration:
   * the runs of one group are read as one answer (`gradscope doctor --group-by group`).
   */
  group?: string;
  /**
   * The run's parameters, one flat JSON object: what the callback read from the model and the fit
   * (AUTO_PARAMS: cell, units, recurrentLayers, timesteps, optimizer, lr, batchSize, epochs, loss) with
   * the user's own (`gradientCallback({ params })`) merged over them (a user key wins).
   */
  params?: Record<string, unknown>;
}

/**
 * One training scalar at one iteration. Names are the `fit` logs' keys as they come ('loss', 'acc',
 * 'mse', 'val_loss', …) and 'probe/loss' for the probe loss at each snapshot.
 */
export interface ScalarPoint {
  /** Optimizer steps completed (as Snapshot.iteration). */
  iteration: number;
  name: string;
  value: number;
  /** Wall-clock ms since the epoch. */
  time: number;
}

/** What a sink that acknowledges on enqueue says about what it later failed to store (Sink.stats). */
export interface SinkDeliveryStats {
  /**
   * Snapshots whose write() had resolved that were then never stored (a store's failed commits, an
   * HttpSink's snapshots given up on): the callback moves them from written to dropped.
   */
  failed: number;
}

/** Where snapshots go. Every method may be slow or fail; the capture protects training from both. */
export interface Sink {
  write(snapshot: Snapshot): Promise<void>;
  /** Called when training with the callback begins (once per `fit`; the same run id each time). */
  startRun?(run: RunInfo): Promise<void>;
  /** Called when a `fit` ends. */
  endRun?(runId: string, status: WrittenRunStatus): Promise<void>;
  /** Training scalars of a run, batched by the callback. */
  writeScalars?(run: string, points: ScalarPoint[]): Promise<void>;
  /**
   * What became of the snapshots whose write() resolved: `failed` counts those that were then never stored
   * (a write() that resolves on acceptance cannot reject for them). The callback adds it to stats.dropped.
   */
  stats?(): SinkDeliveryStats;
  close?(): Promise<void>;
}

// ---- What a store reader hands back (the data provider of the server's routes) ----

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
  /**
   * RunInfo.group, or null when the run has none. A reader always sets it and `params`; they are optional
   * here for records built elsewhere (an older server's answer, a test's fixture).
   */
  group?: string | null;
  /** RunInfo.params (`{}` when none). */
  params?: Record<string, unknown>;
}

/** A run with its model summary and capture options (GET /api/runs/:run). */
export interface RunDetails extends RunRecord {
  model: ModelSummary;
  options: CaptureOptions;
}

/** What one layer of a run holds (GET /api/runs/:run/layers). */
export interface LayerInfo {
  layer: string;
  layerClass: string;
  /** Each recorded kind with its parts, `null` standing for the whole layer output. */
  kinds: Partial<Record<Kind, (string | null)[]>>;
  /** Distinct recorded parts over all kinds (`null` = whole layer output). */
  parts: (string | null)[];
  /**
   * First and last iteration with a snapshot of this layer, and how many distinct iterations have one. The
   * list itself is the series index's (`GET …/series`, bounded and downsampled): a run of 50,000 snapshots
   * should not send 50,000 numbers with its layer list.
   */
  firstIteration: number;
  lastIteration: number;
  iterationCount: number;
  /** Snapshots of this layer (all kinds and parts). */
  snapshots: number;
  /** Present for a bidirectional layer whose channels concatenate the directions. */
  channelParts?: string[];
}

/**
 * The scalar statistics of a tensor (or of one channel part of it), computed once at write time.
 * Non-finite values are left out of all of them.
 */
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
  /**
   * Memory horizon: the earliest timestep t whose L2 norm (over every other axis) is ≥ 1% of the largest
   * per-timestep norm (HORIZON_FRACTION; see memoryHorizon). null without a 'timestep' axis or when every
   * per-timestep norm is 0.
   */
  horizon: number | null;
  /** norm(t = 0) / max per-timestep norm (null as for `horizon`). */
  t0Ratio: number | null;
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
  /** L2 norm per timestep (over every other axis), or null without a 'timestep' axis. */
  timestepNorms: Float32Array | null;
  /** L2 norm per index of the last axis, or null for a rank-0 tensor or when the last axis is 'timestep'. */
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
  /** The same matrix per channel part (bidirectional concat layers); NaN rows where a part is missing. */
  parts?: Record<string, Float32Array>;
  /** Rows stored before downsampling (the reader's `maxRows`). */
  count: number;
  /** Memory horizon of each row (ScalarSummary.horizon), null where there is none. */
  horizon: (number | null)[];
  /** norm(t = 0) / max of each row (ScalarSummary.t0Ratio). */
  t0Ratio: (number | null)[];
  /** horizon and t0Ratio of each row per channel part. */
  partHorizons?: Record<string, { horizon: (number | null)[]; t0Ratio: (number | null)[] }>;
}

/** Histograms over training (GET /api/runs/:run/histograms). */
export interface HistogramSeries {
  ids: number[];
  iterations: number[];
  /** B + 1 bucket edges (the same for every snapshot). */
  edges: Float64Array;
  /** iterations.length × B counts, iteration-major. */
  counts: Uint32Array;
  /** Percentiles interpolated from the histograms (TensorBoard's distribution basis points). */
  percentiles: { p: number[]; values: Float64Array };
  /** The counts per channel part; zero rows where a part is missing. */
  parts?: Record<string, Uint32Array>;
  /** Rows stored before downsampling (the reader's `maxRows`). */
  count: number;
}

/**
 * The snapshot index of one series as columns, one entry per row in (iteration, id) order, downsampled like
 * the flow matrix (reader.seriesIndex). Whole-tensor summaries; NaN stands for null.
 */
export interface SeriesIndex {
  /** Rows stored before downsampling. */
  count: number;
  ids: Float64Array;
  iterations: Float64Array;
  /** Wall-clock ms since the epoch. */
  time: Float64Array;
  loss: Float64Array;
  l2: Float64Array;
  maxAbs: Float64Array;
  min: Float64Array;
  max: Float64Array;
  mean: Float64Array;
  std: Float64Array;
  nonFinite: Float64Array;
  horizon: Float64Array;
  t0Ratio: Float64Array;
}

/** One training scalar over a run (reader.scalars), downsampled per bucket keeping first, last, min and max. */
export interface ScalarSeries {
  name: string;
  /** Points stored before downsampling. */
  count: number;
  iterations: Float64Array;
  values: Float64Array;
  /** Wall-clock ms since the epoch of each point (ScalarPoint.time), downsampled with the others. */
  times: Float64Array;
}

/** A tensor decoded from its Arrow IPC payload (decodeSnapshot). */
export interface DecodedTensor {
  shape: number[];
  dims: string[];
  /** Row-major values (a view into the payload bytes when they are aligned). */
  data: Float32Array;
  /** The other snapshot fields carried in the payload's `gradscope:snapshot` schema metadata, when present. */
  meta?: SnapshotMeta;
}
