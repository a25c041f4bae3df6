// The kinds of tensor a snapshot holds and the statuses of a run: declared here once, read by every package.

/**
 * What a snapshot holds, in the order the viewer offers them. Adding a kind is one line here plus its
 * computation in the capture.
 */
export const KINDS = [
  /** d loss / d layer output; dims sample, timestep, channel (the BPTT gradients). */
  'output-grad',
  /** The layer output; dims sample, timestep, channel. */
  'output',
  /** d loss / d layer input; dims sample, timestep, channel. */
  'input-grad',
  /** d loss / d weight, one snapshot per weight and gate; dims input, unit. */
  'weight-grad',
  /** The weight values, one snapshot per weight and gate; dims input, unit. */
  'weight',
  /**
   * Loss-free: per sample s, d(v_s · h_T)/d x_t, the layer's last state h_T projected on a seeded random
   * vector v_s, w.r.t. its input at each timestep; dims sample, timestep, channel. The mean over samples of
   * its squared per-timestep norm estimates E‖∂h_T/∂x_t‖²_F: how far back the state depends on its input.
   */
  'jacobian',
] as const;

/** What a snapshot holds (one of KINDS). */
export type Kind = (typeof KINDS)[number];

const KIND_SET: ReadonlySet<string> = new Set(KINDS);

/** True when `value` is one of KINDS. */
export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && KIND_SET.has(value);
}

/**
 * The statuses of a run. 'running', 'finished' and 'failed' are written (RunInfo start, Sink.endRun);
 * 'interrupted' is only ever derived by a reader, for a run left 'running' by a writer that died.
 */
export const RUN_STATUSES = ['running', 'finished', 'failed', 'interrupted'] as const;

/** A run's status (one of RUN_STATUSES). */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a writer may record (Sink.endRun, POST /api/ingest/runs/:run/end). */
export const WRITTEN_RUN_STATUSES = ['running', 'finished', 'failed'] as const;

/** A status a writer may record: every RunStatus but the derived 'interrupted'. */
export type WrittenRunStatus = (typeof WRITTEN_RUN_STATUSES)[number];

/**
 * Name of one axis of `Snapshot.data`, outermost first:
 * - 'sample', 'timestep', 'channel' for recurrent layer outputs, inputs and their gradients
 *   (`output`, `output-grad`, `input-grad`, `jacobian`);
 * - 'sample', 'timestep', 'row', 'col', 'channel' for ConvLSTM2D (5-D, channels last);
 * - 'input', 'unit' for weights ('input' indexes what feeds a gate: input features for a kernel, units for
 *   a recurrent kernel);
 * - 'axisK' for other axes of non-recurrent layers.
 *
 * Every 'timestep' axis is in input time order: index t is the t-th timestep of the layer's input, also for
 * a layer with `goBackwards: true` and for the backward direction of a Bidirectional layer (both process
 * time in reverse and are flipped back when recorded).
 */
export type Dim = string;
