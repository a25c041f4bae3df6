// The public shapes of an export: what to select, the plan that resolves it, and what writing it reports.
import type { Kind, SnapshotInfo } from '@gradscope/format';
import type { RunReader } from '@gradscope/store';

/** Arrow IPC, Parquet, or (scalars only) CSV. */
export type ExportFormat = 'arrow' | 'parquet' | 'csv';
/** `tensor`: one row per snapshot, the tensor in one `arrow.fixed_shape_tensor` cell; `long`: one row per value. */
export type ExportLayout = 'tensor' | 'long';
/** What to export: the captured tensors (default) or the scalars (loss and metrics per step). */
export type ExportData = 'tensors' | 'scalars';

/** Which snapshots to export. */
export interface ExportSelection {
  /** Run id or name (a name means the latest run of that name). */
  run: string;
  layer?: string;
  kind?: Kind;
  /** A part; null = whole-layer snapshots only; undefined = every part. */
  part?: string | null;
  /** Only these iterations (all when undefined). */
  iterations?: number[];
}

/** Everything `planExport` resolves: the selection, the format and layout, and where the bytes go. */
export interface ExportRequest extends ExportSelection {
  /** Default 'tensors'. The scalars export ignores layer, kind, part and layout (it has one layout). */
  data?: ExportData;
  /**
   * A file path ending in .arrow, .arrows, .feather, .ipc, .parquet (or .csv for scalars): one file. Any other
   * path: a directory (created when missing) with one file per (layer, kind, part) group. Omitted: one file's
   * bytes for a stream (`writeExport(plan, writable)`), e.g. an HTTP response.
   */
  out?: string;
  /** Default: from `out`'s extension (.parquet → 'parquet', .csv → 'csv'), else 'arrow'. */
  format?: ExportFormat;
  /**
   * Default: 'tensor' for Arrow, 'long' for Parquet (its only layout). 'auto': 'tensor' when the selection is
   * one (layer, kind, part, shape) group or goes to a directory, 'long' otherwise.
   */
  layout?: ExportLayout | 'auto';
  /**
   * Arrow IPC flavour: 'file' (default; random access, .arrow / Feather v2) or 'stream' (.arrows), for a
   * stream or the files of a directory. A single file takes it from its extension.
   */
  ipc?: 'file' | 'stream';
}

/** A set of snapshots that share one file in a directory export. */
export interface ExportGroup {
  layer: string;
  kind: Kind;
  part: string | null;
  /** The common shape (tensor layout groups split by shape; long layout groups may mix shapes: null). */
  shape: number[] | null;
  dims: string[];
  snapshots: SnapshotInfo[];
  /** Safe file name stem derived from layer, kind and part (and shape when one series has several). */
  name: string;
}

/** One output file of a plan. */
export interface PlannedFile {
  /** Absolute path; null for the stream target. */
  path: string | null;
  /** File name (for a stream: the suggested download name, e.g. for Content-Disposition). */
  name: string;
  /** Tensor layout: exactly one group; long layout: one or more. Empty for scalars. */
  groups: ExportGroup[];
  /** Snapshots the file will hold (0 for scalars). */
  snapshots: number;
}

export type ExportTarget =
  | { type: 'stream' }
  | { type: 'file'; path: string }
  | { type: 'directory'; path: string };

/** The run an export is of: every file carries both, `run` (the name) and `run_id` columns. */
export interface ExportRun {
  id: string;
  name: string;
}

/** A checked export: nothing is written until `writeExport(plan, …)`. */
export interface ExportPlan {
  readonly reader: RunReader;
  readonly data: ExportData;
  readonly run: ExportRun;
  readonly format: ExportFormat;
  /** 'long' for scalars. */
  readonly layout: ExportLayout;
  readonly ipc: 'file' | 'stream';
  readonly target: ExportTarget;
  readonly files: PlannedFile[];
  /** Snapshots in all files (0 for scalars). */
  readonly snapshots: number;
  /** Scalars exports: the series names and the number of points (one row each). */
  readonly scalars?: { names: string[]; points: number };
  /** MIME type of the bytes (one file). */
  readonly contentType: string;
}

export interface ExportProgress {
  /** Snapshots written so far (scalars: files). */
  done: number;
  /** To write in all. */
  total: number;
  /** File being written (or '<stream>'). */
  file: string;
}

export interface WriteOptions {
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportedFile {
  /** Absolute path, or '<stream>'. */
  path: string;
  /** Rows: snapshots in the tensor layout, values in the long layout, points for scalars. */
  rows: number;
  /** 0 for scalars. */
  snapshots: number;
  bytes: number;
}

export interface ExportResult {
  files: ExportedFile[];
  snapshots: number;
  rows: number;
  bytes: number;
}
