// @gradscope/export: a run's tensors (or scalars) as Arrow IPC, Parquet or CSV; plan first, then write.
export { exportRun } from './export-run.js';
export { CONTENT_TYPES, exportGroups, planExport } from './plan.js';
export type * from './types.js';
export { writeExport } from './write.js';
