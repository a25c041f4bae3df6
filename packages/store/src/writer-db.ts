// The synchronous write side over one better-sqlite3 connection: runs, snapshots (metadata, Arrow payload,
// summaries) and group commits. The writer worker drives it; the bench and tests may use it directly.
import type { Transaction } from 'better-sqlite3';
import { fromSqlite, isBusy, StoreError } from './errors.js';
import { type Db, DEFAULT_BUSY_TIMEOUT_MS, type SeriesChunkRow, withBusyRetry } from './sqlite.js';
import { summarize } from './summary.js';
import { encodeTensor, snapshotMeta } from './tensor.js';
import type { RunInfo, RunStatus, Snapshot, SnapshotMeta, TensorSummary } from './types.js';
import { validateRunInfo, validateSnapshot, validateStatus } from './validate.js';

/** A snapshot ready for the database: everything computed, the tensor already encoded. */
export interface EncodedSnapshot {
  meta: SnapshotMeta;
  shape: number[];
  dims: string[];
  ipc: Uint8Array;
  summaries: TensorSummary[];
  /** For messages, e.g. 'lstm_1 output-grad iteration 20'. */
  label: string;
}

/** Summaries and Arrow encoding of a snapshot (the CPU work of a write). */
export function encodeSnapshot(snapshot: Snapshot, label = validateSnapshot(snapshot)): EncodedSnapshot {
  const meta = snapshotMeta(snapshot);
  return {
    meta,
    shape: snapshot.shape,
    dims: snapshot.dims,
    ipc: encodeTensor(snapshot.data, snapshot.shape, snapshot.dims, meta),
    summaries: summarize(snapshot.data, snapshot.shape, snapshot.dims, snapshot.channelParts),
    label,
  };
}

/** One operation of a write group. */
export type WriteOp =
  | { type: 'write'; encoded: EncodedSnapshot }
  | { type: 'startRun'; run: RunInfo }
  | { type: 'endRun'; runId: string; status: RunStatus };

export type OpResult = { ok: true; id?: number } | { ok: false; error: StoreError };

function blob(a: ArrayBufferView | null): Buffer | null {
  return a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : null;
}

function opLabel(op: WriteOp): string {
  if (op.type === 'write') return `writing snapshot ${op.encoded.label}`;
  if (op.type === 'startRun') return `starting run ${op.run.id}`;
  return `ending run ${op.runId}`;
}

/**
 * Snapshots per row of `series_chunks`. The per-series matrices (flow, histograms) are read from these
 * chunk rows, so a query over 10,000 snapshots reads ~300 rows instead of 10,000 small BLOBs; appending
 * rewrites at most one chunk (≤ 32 × (4 T + 532) bytes) per snapshot.
 */
export const SERIES_CHUNK_ROWS = 32;

function cat(old: Buffer | undefined, add: ArrayBufferView): Buffer {
  const tail = Buffer.from(add.buffer, add.byteOffset, add.byteLength);
  return old ? Buffer.concat([old, tail]) : Buffer.from(tail);
}

export class SnapshotWriter {
  private readonly runKeys = new Map<string, number>();
  private readonly seriesKeys = new Map<string, number>();
  private readonly stmt;
  private readonly group: Transaction<(ops: WriteOp[]) => (number | undefined)[]>;

  constructor(
    readonly db: Db,
    readonly file: string,
    private readonly busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS,
  ) {
    this.stmt = {
      upsertRun: db.prepare(`
        INSERT INTO runs (id, name, started_at, status, model, options, backend, tfjs_version, host, meta)
        VALUES (@id, @name, @startedAt, 'running', @model, @options, @backend, @tfjsVersion, @host, @meta)
        ON CONFLICT (id) DO UPDATE SET
          name = excluded.name, status = 'running', ended_at = NULL, model = excluded.model,
          options = excluded.options, backend = excluded.backend, tfjs_version = excluded.tfjs_version,
          host = excluded.host, meta = excluded.meta`),
      implicitRun: db.prepare(`
        INSERT OR IGNORE INTO runs (id, name, started_at, status, model, options, backend, tfjs_version, host)
        VALUES (?, ?, ?, 'running', '{}', '{}', '', '', '')`),
      runKey: db.prepare('SELECT key FROM runs WHERE id = ?').pluck(),
      endRun: db.prepare('UPDATE runs SET status = ?, ended_at = ? WHERE id = ?'),
      snapshot: db.prepare(`
        INSERT INTO snapshots (run_key, iteration, epoch, batch, layer, layer_class, kind, part, channel_parts,
          shape, dims, loss, time, non_finite, payload_bytes, l2, max_abs, min, max, mean, std, s_non_finite, count)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      payload: db.prepare('INSERT INTO payloads (snapshot_id, ipc) VALUES (?, ?)'),
      series: db.prepare('INSERT OR IGNORE INTO series (run_key, layer, kind, part) VALUES (?, ?, ?, ?)'),
      seriesKey: db
        .prepare('SELECT key FROM series WHERE run_key = ? AND layer = ? AND kind = ? AND part = ?')
        .pluck(),
      lastChunk: db.prepare(`
        SELECT rowid, chunk, count, width, ids, iterations, timestep_norms, histograms, minmax FROM series_chunks
        WHERE series_key = ? AND channel_part = ? ORDER BY chunk DESC LIMIT 1`),
      newChunk: db.prepare(`
        INSERT INTO series_chunks (series_key, channel_part, chunk, count, width, ids, iterations, timestep_norms,
          histograms, minmax) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`),
      growChunk: db.prepare(`
        UPDATE series_chunks SET count = count + 1, ids = ?, iterations = ?, timestep_norms = ?, histograms = ?,
          minmax = ? WHERE rowid = ?`),
      summary: db.prepare(`
        INSERT INTO summaries (snapshot_id, channel_part, l2, max_abs, min, max, mean, std, non_finite, count,
          timestep_norms, channel_norms, histogram)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    };
    this.group = db.transaction((ops: WriteOp[]) => ops.map((op) => this.apply(op)));
  }

  private runKey(runId: string, time: number): number {
    let key = this.runKeys.get(runId);
    if (key !== undefined) return key;
    key = this.stmt.runKey.get(runId) as number | undefined;
    if (key === undefined) {
      // A snapshot for a run that was never started: record the run with what is known.
      this.stmt.implicitRun.run(runId, runId, time);
      key = this.stmt.runKey.get(runId) as number;
    }
    this.runKeys.set(runId, key);
    return key;
  }

  private seriesKey(runKey: number, layer: string, kind: string, part: string): number {
    const k = `${runKey}\u0000${layer}\u0000${kind}\u0000${part}`;
    let key = this.seriesKeys.get(k);
    if (key === undefined) {
      this.stmt.series.run(runKey, layer, kind, part);
      key = this.stmt.seriesKey.get(runKey, layer, kind, part) as number;
      this.seriesKeys.set(k, key);
    }
    return key;
  }

  /** Appends one snapshot's timestep norms, histogram and min/max to its series' last chunk. */
  private appendToSeries(series: number, id: number, iteration: number, s: TensorSummary): void {
    const norms = s.timestepNorms ?? new Float32Array(0);
    const width = norms.length;
    const last = this.stmt.lastChunk.get(series, s.channelPart) as SeriesChunkRow | undefined;
    const ids = Float64Array.of(id);
    const its = Float64Array.of(iteration);
    const minmax = Float64Array.of(s.min, s.max);
    if (!last || last.count >= SERIES_CHUNK_ROWS || last.width !== width) {
      this.stmt.newChunk.run(
        series,
        s.channelPart,
        last ? last.chunk + 1 : 0,
        width,
        cat(undefined, ids),
        cat(undefined, its),
        cat(undefined, norms),
        cat(undefined, s.histogram),
        cat(undefined, minmax),
      );
      return;
    }
    this.stmt.growChunk.run(
      cat(last.ids, ids),
      cat(last.iterations, its),
      cat(last.timestep_norms, norms),
      cat(last.histograms, s.histogram),
      cat(last.minmax, minmax),
      last.rowid,
    );
  }

  private apply(op: WriteOp): number | undefined {
    if (op.type === 'startRun') {
      const r = op.run;
      this.stmt.upsertRun.run({
        id: r.id,
        name: r.name,
        startedAt: r.startedAt,
        model: JSON.stringify(r.model ?? {}),
        options: JSON.stringify(r.options ?? {}),
        backend: String(r.backend ?? ''),
        tfjsVersion: String(r.tfjsVersion ?? ''),
        host: String(r.host ?? ''),
        meta: JSON.stringify(r.meta ?? {}),
      });
      return undefined;
    }
    if (op.type === 'endRun') {
      const changed = this.stmt.endRun.run(op.status, Date.now(), op.runId).changes;
      if (changed === 0)
        throw new StoreError('ENOTFOUND', `${this.file}: cannot end run ${op.runId}: no such run`);
      return undefined;
    }
    const { meta, shape, dims, ipc, summaries } = op.encoded;
    const whole = summaries[0]!;
    const runKey = this.runKey(meta.run, meta.time);
    const id = Number(
      this.stmt.snapshot.run(
        runKey,
        meta.iteration,
        meta.epoch,
        meta.batch,
        meta.layer,
        meta.layerClass,
        meta.kind,
        meta.part ?? '',
        meta.channelParts ? JSON.stringify(meta.channelParts) : null,
        JSON.stringify(shape),
        JSON.stringify(dims),
        meta.loss,
        meta.time,
        meta.nonFinite,
        ipc.byteLength,
        whole.l2,
        whole.maxAbs,
        whole.min,
        whole.max,
        whole.mean,
        whole.std,
        whole.nonFinite,
        whole.count,
      ).lastInsertRowid,
    );
    this.stmt.payload.run(id, blob(ipc));
    for (const s of summaries) {
      this.stmt.summary.run(
        id,
        s.channelPart,
        s.l2,
        s.maxAbs,
        s.min,
        s.max,
        s.mean,
        s.std,
        s.nonFinite,
        s.count,
        blob(s.timestepNorms),
        blob(s.channelNorms),
        blob(s.histogram),
      );
    }
    const series = this.seriesKey(runKey, meta.layer, meta.kind, meta.part ?? '');
    for (const s of summaries) this.appendToSeries(series, id, meta.iteration, s);
    return id;
  }

  /**
   * Commits `ops` in one transaction (retrying while another process holds the lock). When the group
   * fails, each op is retried in its own transaction so that one bad op (e.g. a snapshot that does not
   * fit on the disk) fails alone. Never throws: every op gets a result.
   */
  commit(ops: WriteOp[]): OpResult[] {
    if (ops.length === 0) return [];
    try {
      const ids = withBusyRetry(
        () => this.group.immediate(ops),
        this.file,
        opLabel(ops[0]!),
        this.busyTimeoutMs,
      );
      return ids.map((id) => (id === undefined ? { ok: true } : { ok: true, id }));
    } catch (err) {
      this.runKeys.clear();
      this.seriesKeys.clear();
      if (ops.length === 1 || isBusy(err) || (err instanceof StoreError && err.code === 'EBUSY')) {
        const error =
          err instanceof StoreError && err.file ? err : fromSqlite(err, this.file, opLabel(ops[0]!));
        if (ops.length === 1) return [{ ok: false, error }];
        return ops.map(() => ({ ok: false, error }));
      }
      return ops.flatMap((op) => this.commit([op]));
    }
  }

  /** Synchronous convenience: encode and commit one snapshot; returns its id. Throws on failure. */
  writeSnapshot(snapshot: Snapshot): number {
    const [r] = this.commit([{ type: 'write', encoded: encodeSnapshot(snapshot) }]);
    if (!r!.ok) throw r!.error;
    return r!.id!;
  }

  startRun(run: RunInfo): void {
    const [r] = this.commit([{ type: 'startRun', run: validateRunInfo(run) }]);
    if (!r!.ok) throw r!.error;
  }

  endRun(runId: string, status: RunStatus): void {
    const [r] = this.commit([{ type: 'endRun', runId, status: validateStatus(status) }]);
    if (!r!.ok) throw r!.error;
  }

  close(): void {
    try {
      this.db.close();
    } catch (err) {
      throw fromSqlite(err, this.file, 'closing the database');
    }
  }
}
