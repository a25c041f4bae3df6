// The records the capture produces and the Sink interface every consumer implements: defined once in
// @gradscope/format, re-exported here so the capture's public API keeps them.
export type {
  CaptureOptions,
  Dim,
  Kind,
  LayerSummary,
  ModelSummary,
  RunInfo,
  RunStatus,
  ScalarPoint,
  Sink,
  SinkDeliveryStats,
  Snapshot,
  WrittenRunStatus,
} from '@gradscope/format';
export { KINDS } from '@gradscope/format';
