// @gradscope/capture: record per-timestep RNN gradients (BPTT) during TensorFlow.js training.

export {
  type CaptureStats,
  GradientCallback,
  type GradientCallbackArgs,
  gradientCallback,
} from './callback.js';
export type { Batch } from './capture.js';
export { GradscopeError, type GradscopeErrorCode } from './errors.js';
export { HttpSink, type HttpSinkOptions, type HttpSinkStats } from './http-sink.js';
export type { LayerSpec } from './layers.js';
export { getLayerGradients, type LayerGradientsArgs } from './one-off.js';
export { MemorySink, type SinkStats } from './sink.js';
export {
  type CaptureOptions,
  type Dim,
  KINDS,
  type Kind,
  type LayerSummary,
  type ModelSummary,
  type RunInfo,
  type RunStatus,
  type ScalarPoint,
  type Sink,
  type SinkDeliveryStats,
  type Snapshot,
  type WrittenRunStatus,
} from './types.js';
