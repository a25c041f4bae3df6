// The shapes of a write, one per stage. The training thread validates a snapshot and encodes its payload
// (EncodedSnapshot, in shared memory); it posts the writer thread the very operation the writer will commit
// (Posted: an Operation and its sequence number); the writer thread fills in the snapshot's summaries, or
// takes them from the summarizer thread, and hands the operation as it is to SnapshotWriter.commit.
import type { MessagePort } from 'node:worker_threads';
import type { ModelSummary } from '@gradscope/format';
import { type SerializedError, type StoreError, serializeError } from './errors.js';
import type { CompactPolicy, RunTag } from './provider.js';
import type { RunInfo, ScalarPoint, SnapshotMeta, TensorSummary, WrittenRunStatus } from './types.js';

/** A snapshot as the writer commits it: its metadata and its Arrow IPC payload, then its summaries. */
export interface EncodedSnapshot {
  meta: SnapshotMeta;
  shape: number[];
  dims: string[];
  /** The Arrow IPC payload (see payload.ts), in shared memory when the training thread made it. */
  ipc: Uint8Array;
  /** Where the float32 values are in `ipc` (a multiple of 4), or -1: decode the payload to find them. */
  dataOffset: number;
  /** For messages, e.g. 'lstm_1 output-grad iteration 20'. */
  label: string;
  /**
   * The write-time summaries (whole tensor first, then each channel part): absent until the writer thread
   * computes them; 'summarizer' while the summarizer thread computes them (see summarizer.ts).
   */
  summaries?: TensorSummary[] | 'summarizer';
}

/** What SnapshotWriter.commit runs, several in one transaction. */
export type WriteOp =
  | { type: 'write'; snapshot: EncodedSnapshot }
  | { type: 'startRun'; run: RunInfo }
  | { type: 'endRun'; runId: string; status: WrittenRunStatus; endedAt?: number }
  | { type: 'scalars'; runId: string; points: ScalarPoint[] }
  | { type: 'renameRun'; run: string; name: string }
  | { type: 'updateRunMeta'; run: string; meta: Record<string, unknown> }
  | { type: 'tagRun'; run: string; tag: RunTag }
  | { type: 'deleteRun'; run: string };

/** What an operation is doing, for the message of its error (both backends' writers). */
export function opLabel(op: WriteOp): string {
  switch (op.type) {
    case 'write':
      return `writing snapshot ${op.snapshot.label}`;
    case 'startRun':
      return `starting run ${op.run.id}`;
    case 'endRun':
      return `ending run ${op.runId}`;
    case 'scalars':
      return `writing ${op.points.length} scalars of run ${op.runId}`;
    case 'renameRun':
      return `renaming run ${op.run}`;
    case 'updateRunMeta':
      return `updating the metadata of run ${op.run}`;
    case 'tagRun':
      return `tagging run ${op.run}`;
    case 'deleteRun':
      return `deleting run ${op.run}`;
  }
}

/** A run's recorded model summary (JSON), completed for a run recorded without one, or a partial one. */
export function modelOf(json: string): ModelSummary {
  const stored = JSON.parse(json) as Partial<ModelSummary>;
  return { name: '', className: '', layers: [], inputShape: [], outputShape: [], losses: [], ...stored };
}

/** The model summary recorded for a run never started (a sink that only calls write()), by both writers. */
export const NO_MODEL = JSON.stringify(modelOf('{}'));

/** Everything the writer thread does: a WriteOp, or an operation that ends a commit group. */
export type Operation =
  | WriteOp
  | { type: 'flush' }
  | { type: 'close' }
  | { type: 'vacuum' }
  | { type: 'compact'; policy: CompactPolicy };

/** Training thread → writer thread (and, for a large snapshot, → summarizer thread): one operation. */
export interface Posted<O extends Operation = Operation> {
  /** Acknowledgements name the operation by it; it grows by one per operation. */
  seq: number;
  op: O;
}

/** Whether `op` is committed in a group (true) or ends one (flush, close, vacuum, compact). */
export function isWriteOp(op: Operation): op is WriteOp {
  return op.type !== 'flush' && op.type !== 'close' && op.type !== 'vacuum' && op.type !== 'compact';
}

/**
 * Training thread → writer thread: the operations of one post (see WriterQueue.pump), or (once) the port of the
 * summarizer thread and the control array the three threads share (see summarizer.ts).
 */
export type InMessage = Posted[] | { summarizer: { port: MessagePort; control: Int32Array } };

/** One acknowledgement: operation `seq` done (with the snapshot's id, or a maintenance answer) or failed. */
export type Ack = { seq: number; ok: boolean; id?: number; value?: unknown; error?: SerializedError };

/** Writer thread → training thread, on the replies port (which the training thread can drain synchronously). */
export type OutMessage =
  | { type: 'ready'; file: string }
  | { type: 'fatal'; error: SerializedError }
  | { type: 'acks'; results: Ack[] };

/** What a writer (SQLite's SnapshotWriter, PostgreSQL's PgWriter) made of one operation of a group. */
export type OpResult = { ok: true; id?: number } | { ok: false; error: StoreError };

/** The acknowledgement of operation `seq` from its result. */
export function ackOf(seq: number, r: OpResult): Ack {
  return r.ok
    ? { seq, ok: true, ...(r.id !== undefined ? { id: r.id } : {}) }
    : { seq, ok: false, error: serializeError(r.error) };
}

/** A run's stored `meta` (JSON text, or none) with `meta`'s keys set over it: updateRunMeta on either backend. */
export function mergedMeta(stored: string | undefined, meta: Record<string, unknown>): string {
  const old = JSON.parse(stored ?? '{}') as unknown;
  const base = old !== null && typeof old === 'object' && !Array.isArray(old) ? old : {};
  return JSON.stringify({ ...base, ...meta });
}

/**
 * A run's group and params (JSON text) after `tag`: tagRun on either backend. A param set to null is removed;
 * a group left undefined stays.
 */
export function taggedRun(
  stored: { group: string | null; params: string },
  tag: RunTag,
): { group: string | null; params: string } {
  const params = JSON.parse(stored.params) as Record<string, unknown>;
  for (const [k, v] of Object.entries(tag.params ?? {})) {
    if (v === null) delete params[k];
    else params[k] = v;
  }
  return { group: tag.group === undefined ? stored.group : tag.group, params: JSON.stringify(params) };
}
