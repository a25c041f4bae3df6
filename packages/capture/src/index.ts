// @gradscope/capture: record per-timestep RNN gradients (BPTT) during TensorFlow.js training.
export {
  type CaptureStats,
  GradientCallback,
  type GradientCallbackArgs,
  gradientCallback,
} from './callback.js';
export type { Batch } from './capture.js';
export { GradscopeError } from './errors.js';
export type { LayerSpec } from './layers.js';
export { getLayerGradients, type LayerGradientsArgs } from './one-off.js';
export { MemorySink, type SinkStats } from './sink.js';
export {
  type Dim,
  KINDS,
  type Kind,
  type LayerSummary,
  type ModelSummary,
  type RunInfo,
  type RunStatus,
  type Sink,
  type Snapshot,
} from './types.js';
