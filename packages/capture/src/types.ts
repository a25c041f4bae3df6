// The records the capture produces and the Sink interface every consumer (store, HTTP, memory) implements.

/** What a snapshot holds. */
export type Kind = 'output-grad' | 'output' | 'weight-grad' | 'weight';
export const KINDS: readonly Kind[] = ['output-grad', 'output', 'weight-grad', 'weight'];

/**
 * Name of one axis of `Snapshot.data`, outermost first: 'sample', 'timestep', 'channel' for layer
 * outputs; 'input', 'unit' for weights ('input' indexes what feeds a gate: input features for a
 * kernel, units for a recurrent kernel); 'axisK' for other axes of non-recurrent layers.
 */
export type Dim = string;

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

/** The run-start record: what was trained, how, and where. */
export interface RunInfo {
  id: string;
  name: string;
  /** Wall-clock ms since the epoch. */
  startedAt: number;
  model: ModelSummary;
  options: {
    mode: 'probe' | 'batch';
    every?: number;
    at?: number[];
    capture: Kind[];
    layers: string[];
  };
  backend: string;
  tfjsVersion: string;
  host: string;
  /** Free-form JSON the user attaches to the run (`gradientCallback({ runMeta })`), e.g. a description. */
  meta?: Record<string, unknown>;
}

export type RunStatus = 'running' | 'finished' | 'failed';

/** Where snapshots go. Every method may be slow or fail; the capture protects training from both. */
export interface Sink {
  write(snapshot: Snapshot): Promise<void>;
  /** Called when training with the callback begins (once per `fit`; the same run id each time). */
  startRun?(run: RunInfo): Promise<void>;
  /** Called when a `fit` ends. */
  endRun?(runId: string, status: RunStatus): Promise<void>;
  close?(): Promise<void>;
}
