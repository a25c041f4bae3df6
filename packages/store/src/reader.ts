// openReader: the data provider of the server's routes and the CLI. Read-only; safe to use while trainers
// write: each query sees the latest committed state. Series come back downsampled here (`maxRows`,
// `maxPoints`), not in the routes. No query the run page makes reads every snapshot row of a run: listings
// seek the ends of each series (SERIES_ENDS), figures read the precomputed chunk levels (series.ts).
import type { HorizonRows, SeriesIndex } from '@gradscope/format';
import Database, { type Statement } from 'better-sqlite3';
import { fromSqlite, NotFoundError, StoreError } from './errors.js';
import { HISTOGRAM_BUCKETS, HISTOGRAM_EDGES, histogramPercentiles, PERCENTILES } from './histogram.js';
import { STALE_AFTER_MS, writerGone } from './liveness.js';
import type { RunReader, ScalarsOptions, SeriesKey, SeriesOptions } from './provider.js';
import type { RunRow, SnapshotRow, SummaryRow } from './schema.js';
import { type ChunkRow, f32, SeriesRows, u32 } from './series.js';
import {
  type Db,
  DEFAULT_BUSY_TIMEOUT_MS,
  openReaderDb,
  type ReaderDbOptions,
  withBusyRetry,
} from './sqlite.js';
import { decodeTensor } from './tensor.js';
import type {
  CaptureOptions,
  DecodedTensor,
  FlowMatrix,
  HistogramSeries,
  Kind,
  LayerInfo,
  ModelSummary,
  RunDetails,
  RunRecord,
  ScalarSeries,
  ScalarSummary,
  SnapshotInfo,
  SnapshotQuery,
  SnapshotSummary,
} from './types.js';

export interface ReaderOptions extends ReaderDbOptions {
  /**
   * A run left 'running' whose writer's heartbeat is older than this is reported 'interrupted', ms
   * (default 30 000). On the writer's own host a dead writer process is seen at once.
   */
  staleAfterMs?: number;
}

const num = (v: number | null): number => (v === null ? Number.NaN : v);

function scalar(
  r: Pick<SummaryRow, 'l2' | 'max_abs' | 'min' | 'max' | 'mean' | 'std' | 'count' | 'horizon' | 't0_ratio'>,
  nonFinite: number,
): ScalarSummary {
  return {
    l2: num(r.l2),
    maxAbs: num(r.max_abs),
    min: num(r.min),
    max: num(r.max),
    mean: num(r.mean),
    std: num(r.std),
    nonFinite,
    count: r.count,
    horizon: r.horizon,
    t0Ratio: r.t0_ratio,
  };
}

const SNAPSHOT_COLUMNS = `s.id, r.id AS run, s.iteration, s.epoch, s.batch, s.layer, s.layer_class, s.kind, s.part,
  s.channel_parts, s.shape, s.dims, s.loss, s.time, s.non_finite, s.payload_bytes, s.l2, s.max_abs, s.min, s.max,
  s.mean, s.std, s.s_non_finite, s.count, s.horizon, s.t0_ratio`;

function toInfo(r: SnapshotRow): SnapshotInfo {
  return {
    id: r.id,
    run: r.run,
    iteration: r.iteration,
    epoch: r.epoch,
    batch: r.batch,
    layer: r.layer,
    layerClass: r.layer_class,
    kind: r.kind as Kind,
    part: r.part === '' ? null : r.part,
    channelParts: r.channel_parts ? (JSON.parse(r.channel_parts) as string[]) : null,
    shape: JSON.parse(r.shape) as number[],
    dims: JSON.parse(r.dims) as string[],
    loss: num(r.loss),
    time: r.time,
    nonFinite: r.non_finite,
    payloadBytes: r.payload_bytes,
    summary: scalar(r, r.s_non_finite),
  };
}

/** The model summary of a run recorded without one (a sink that only calls write()), or a partial one. */
function modelOf(json: string): ModelSummary {
  const stored = JSON.parse(json) as Partial<ModelSummary>;
  return { name: '', className: '', layers: [], inputShape: [], outputShape: [], losses: [], ...stored };
}

/** Capture options as recorded, with `capture` and `layers` derived from the snapshots when missing. */
function optionsOf(json: string, row: RunRow): CaptureOptions {
  const stored = JSON.parse(json) as Partial<CaptureOptions>;
  return {
    mode: 'batch',
    ...stored,
    capture: stored.capture ?? row.kinds,
    layers: stored.layers ?? row.layers,
  };
}

/** One scalar's points as columns. */
type ScalarColumns = Pick<ScalarSeries, 'iterations' | 'values' | 'times'>;

/** Scalar points gathered column by column (see Reader.scalarPoints); the arrays grow by doubling. */
class PointColumns {
  length = 0;
  private rowids = new Float64Array(1024);
  iterations = new Float64Array(1024);
  values = new Float64Array(1024);
  times = new Float64Array(1024);

  push(rowid: number, iteration: number, value: number, time: number): void {
    if (this.length === this.rowids.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.rowids = grow(this.rowids);
      this.iterations = grow(this.iterations);
      this.values = grow(this.values);
      this.times = grow(this.times);
    }
    const i = this.length++;
    this.rowids[i] = rowid;
    this.iterations[i] = iteration;
    this.values[i] = value;
    this.times[i] = time;
  }

  /** The points in (iteration, rowid) order, trimmed to their length; sorted only when they are not. */
  ordered(): ScalarColumns {
    const n = this.length;
    const { rowids, iterations: its } = this;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) {
      sorted = its[i - 1]! < its[i]! || (its[i - 1] === its[i] && rowids[i - 1]! < rowids[i]!);
    }
    if (sorted) {
      return {
        iterations: its.slice(0, n),
        values: this.values.slice(0, n),
        times: this.times.slice(0, n),
      };
    }
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => its[a]! - its[b]! || rowids[a]! - rowids[b]!,
    );
    const pick = (a: Float64Array) => Float64Array.from(order, (i) => a[i]!);
    return { iterations: pick(its), values: pick(this.values), times: pick(this.times) };
  }
}

/** The first or last snapshot of series k by (iteration, id): one seek in snapshots_flow. */
const seriesEnd = (alias: string, order: string) => `JOIN snapshots ${alias} ON ${alias}.id = (
    SELECT s.id FROM snapshots s
    WHERE s.run_key = k.run_key AND s.layer = k.layer AND s.kind = k.kind AND s.part = k.part
    ORDER BY ${order} LIMIT 1)`;

/** The series of one run (?) that hold snapshots, each with its first and last snapshot. Exported for its test. */
export const SERIES_ENDS = `
  SELECT k.layer, k.kind, k.part, f.id AS first, f.iteration AS first_iteration, f.layer_class,
    f.channel_parts, l.iteration AS last_iteration, l.time AS last_time
  FROM series k ${seriesEnd('f', 's.iteration, s.id')} ${seriesEnd('l', 's.iteration DESC, s.id DESC')}
  WHERE k.run_key = ? ORDER BY f.id`;

/** The first and last snapshot of one series (see Reader.seriesEnds). */
interface SeriesEnds {
  layer: string;
  kind: Kind;
  part: string;
  first: number;
  first_iteration: number;
  layer_class: string;
  channel_parts: string | null;
  last_iteration: number;
  last_time: number;
}

/** Downsamples one name's points: per bucket of consecutive points, its first, last, min and max. */
function bucketPoints(
  its: Float64Array,
  vals: Float64Array,
  times: Float64Array,
  maxPoints: number | undefined,
): ScalarSeries {
  const n = its.length;
  if (maxPoints === undefined || n <= maxPoints) {
    return { name: '', count: n, iterations: its, values: vals, times };
  }
  const buckets = Math.max(1, Math.floor(maxPoints / 4));
  const keep: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets);
    const to = Math.floor(((b + 1) * n) / buckets);
    if (to <= from) continue;
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const v = vals[i]!;
      if (Number.isNaN(v)) continue;
      if (lo < 0 || v < vals[lo]!) lo = i;
      if (hi < 0 || v > vals[hi]!) hi = i;
    }
    const picked = [from, lo, hi, to - 1].filter((i) => i >= 0).sort((a, b) => a - b);
    for (const i of picked) if (keep[keep.length - 1] !== i) keep.push(i);
  }
  const iterations = new Float64Array(keep.length);
  const values = new Float64Array(keep.length);
  const keptTimes = new Float64Array(keep.length);
  keep.forEach((i, k) => {
    iterations[k] = its[i]!;
    values[k] = vals[i]!;
    keptTimes[k] = times[i]!;
  });
  return { name: '', count: n, iterations, values, times: keptTimes };
}

export class Reader implements RunReader {
  private readonly stmts = new Map<string, Statement>();
  private closed = false;
  private payloadDb: Db | undefined;
  private payloadStmt: Statement | undefined;
  /** Where the gradscope_points aggregate writes (see scalarPoints). */
  private points: PointColumns | undefined;
  private pointsRegistered = false;
  private readonly staleAfterMs: number;

  /** @internal use openReader */
  constructor(
    private readonly db: Db,
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly busyTimeoutMs: number,
    staleAfterMs = STALE_AFTER_MS,
  ) {
    this.staleAfterMs = staleAfterMs;
  }

  private stmt(sql: string): Statement {
    this.checkOpen();
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private checkOpen(): void {
    if (this.closed)
      throw new StoreError('ECLOSED', `${this.path}: the reader is closed`, { file: this.path });
  }

  /** Runs a query, retrying on a transient lock and naming the file in any error. */
  private q<T>(doing: string, fn: () => T): T {
    return withBusyRetry(fn, this.path, doing, this.busyTimeoutMs);
  }

  /**
   * The series of a run that hold snapshots, in the order they first appear, each with its first and last
   * snapshot (by iteration, then id). Two index seeks per series (snapshots_flow ends in iteration, then the
   * rowid), so this costs the same at 50,000 snapshots as at 1,000: no scan of the run's snapshots.
   */
  private seriesEnds(runKey: number): SeriesEnds[] {
    return this.stmt(SERIES_ENDS).all(runKey) as SeriesEnds[];
  }

  private runRows(where: string, args: unknown[]): RunRow[] {
    const rows = this.stmt(`
      SELECT r.*, (SELECT count(*) FROM snapshots s WHERE s.run_key = r.key) AS snapshots
      FROM runs r ${where}`).all(...args) as Omit<
      RunRow,
      'last_iteration' | 'last_time' | 'layers' | 'kinds'
    >[];
    return rows.map((r) => {
      const series = this.seriesEnds(r.key);
      const most = (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs));
      return {
        ...r,
        last_iteration: most(series.map((e) => e.last_iteration)),
        last_time: most(series.map((e) => e.last_time)),
        layers: [...new Set(series.map((e) => e.layer))],
        kinds: [...new Set(series.map((e) => e.kind))],
      };
    });
  }

  /** 'interrupted' for a run left 'running' by a writer that is gone (see liveness.ts). */
  private status(r: RunRow): RunRecord['status'] {
    if (r.status !== 'running') return r.status;
    const lastSign = Math.max(r.heartbeat_at ?? 0, r.started_at, r.last_time ?? 0);
    return writerGone(r.writer, lastSign, Date.now(), this.staleAfterMs) ? 'interrupted' : 'running';
  }

  private toRun(r: RunRow): RunRecord {
    return {
      id: r.id,
      name: r.name,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      status: this.status(r),
      backend: r.backend,
      tfjsVersion: r.tfjs_version,
      host: r.host,
      snapshots: r.snapshots,
      lastIteration: r.last_iteration,
      layers: r.layers,
      meta: JSON.parse(r.meta) as Record<string, unknown>,
      group: r.run_group,
      params: JSON.parse(r.params) as Record<string, unknown>,
    };
  }

  /** Every run, newest first. */
  listRuns(): RunRecord[] {
    return this.q('listing runs', () =>
      this.runRows('ORDER BY r.started_at DESC, r.key DESC', []).map((r) => this.toRun(r)),
    );
  }

  private findRunRow(run: string): RunRow | undefined {
    return (
      this.runRows('WHERE r.id = ?', [run]).at(0) ??
      this.runRows('WHERE r.name = ? ORDER BY r.started_at DESC, r.key DESC LIMIT 1', [run]).at(0)
    );
  }

  /** A run by id, or by name (the most recently started run of that name). Undefined when none matches. */
  getRun(run: string): RunDetails | undefined {
    return this.q('reading a run', () => {
      const row = this.findRunRow(run);
      if (!row) return undefined;
      return { ...this.toRun(row), model: modelOf(row.model), options: optionsOf(row.options, row) };
    });
  }

  /** getRun, or a NotFoundError (ENOTFOUND, "no run with id or name …") when no run matches. */
  requireRun(run: string): RunDetails {
    const details = this.getRun(run);
    if (!details) throw NotFoundError.run(run, this.path);
    return details;
  }

  private runKey(run: string): number {
    const key = this.q(
      'finding a run',
      () =>
        (this.stmt('SELECT key FROM runs WHERE id = ?').pluck().get(run) as number | undefined) ??
        (this.stmt('SELECT key FROM runs WHERE name = ? ORDER BY started_at DESC, key DESC LIMIT 1')
          .pluck()
          .get(run) as number | undefined),
    );
    if (key === undefined) throw NotFoundError.run(run, this.path);
    return key;
  }

  /**
   * The layers of a run with their kinds, parts and iterations, from the ends of its series (seriesEnds)
   * and counts over the snapshots_flow index (no read of the snapshot rows).
   */
  listLayers(run: string): LayerInfo[] {
    const key = this.runKey(run);
    return this.q('listing layers', () => {
      const range = 'run_key = ? AND layer = ? AND kind = ? AND part = ?';
      const count = this.stmt(`SELECT count(*) FROM snapshots WHERE ${range}`).pluck();
      const distinct = this.stmt(`SELECT count(DISTINCT iteration) FROM snapshots WHERE ${range}`).pluck();
      const layers = new Map<string, { info: LayerInfo; series: SeriesEnds[] }>();
      for (const e of this.seriesEnds(key)) {
        let layer = layers.get(e.layer);
        if (!layer) {
          layer = {
            info: {
              layer: e.layer,
              layerClass: e.layer_class,
              kinds: {},
              parts: [],
              firstIteration: e.first_iteration,
              lastIteration: e.last_iteration,
              iterationCount: 0,
              snapshots: 0,
            },
            series: [],
          };
          layers.set(e.layer, layer);
        }
        const { info } = layer;
        layer.series.push(e);
        const part = e.part === '' ? null : e.part;
        const parts = info.kinds[e.kind];
        if (parts) parts.push(part);
        else info.kinds[e.kind] = [part];
        if (!info.parts.includes(part)) info.parts.push(part);
        info.snapshots += count.get(key, e.layer, e.kind, e.part) as number;
        info.firstIteration = Math.min(info.firstIteration, e.first_iteration);
        info.lastIteration = Math.max(info.lastIteration, e.last_iteration);
        if (e.channel_parts && !info.channelParts)
          info.channelParts = JSON.parse(e.channel_parts) as string[];
      }
      // Distinct iterations: over the one series' index range (in iteration order), or, when several series
      // share the layer, over the layer's.
      const layerDistinct = this.stmt(
        'SELECT count(DISTINCT iteration) FROM snapshots WHERE run_key = ? AND layer = ?',
      ).pluck();
      for (const { info, series } of layers.values()) {
        const [one] = series;
        info.iterationCount = (
          series.length === 1
            ? distinct.get(key, one!.layer, one!.kind, one!.part)
            : layerDistinct.get(key, info.layer)
        ) as number;
      }
      return [...layers.values()].map((l) => l.info);
    });
  }

  /**
   * The snapshot index with whole-tensor summaries, ordered by iteration then id. A filter: every field
   * given must match; `part: null` is the whole layer output, a missing part any part.
   */
  listSnapshots(query: SnapshotQuery): SnapshotInfo[] {
    const key = this.runKey(query.run);
    const where = ['s.run_key = ?'];
    const args: unknown[] = [key];
    const filters: [unknown, string][] = [
      [query.layer, 's.layer = ?'],
      [query.kind, 's.kind = ?'],
      [query.part === undefined ? undefined : (query.part ?? ''), 's.part = ?'],
      [query.from, 's.iteration >= ?'],
      [query.to, 's.iteration <= ?'],
      [
        query.iterations && JSON.stringify(query.iterations),
        's.iteration IN (SELECT value FROM json_each(?))',
      ],
    ];
    for (const [value, clause] of filters) {
      if (value === undefined) continue;
      where.push(clause);
      args.push(value);
    }
    let sql = `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN runs r ON r.key = s.run_key
      WHERE ${where.join(' AND ')} ORDER BY ${query.order === 'desc' ? 's.iteration DESC, s.id DESC' : 's.iteration, s.id'}`;
    if (query.limit !== undefined) {
      sql += ' LIMIT ? OFFSET ?';
      args.push(query.limit, query.offset ?? 0);
    }
    return this.q('listing snapshots', () => (this.stmt(sql).all(...args) as SnapshotRow[]).map(toInfo));
  }

  /** Snapshots stored after snapshot id `afterId` (any run), in id order: for live updates. */
  snapshotsAfter(afterId: number, limit = 1000): SnapshotInfo[] {
    return this.q('listing new snapshots', () =>
      (
        this.stmt(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN runs r ON r.key = s.run_key
          WHERE s.id > ? ORDER BY s.id LIMIT ?`).all(afterId, limit) as SnapshotRow[]
      ).map(toInfo),
    );
  }

  /** Changes whenever another connection commits (SQLite's data_version): cheap polling for live updates. */
  dataVersion(): number {
    return this.q('reading data_version', () => this.db.pragma('data_version', { simple: true }) as number);
  }

  getSnapshot(id: number): SnapshotInfo | undefined {
    return this.q('reading a snapshot', () => {
      const row = this.stmt(
        `SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN runs r ON r.key = s.run_key WHERE s.id = ?`,
      ).get(id) as SnapshotRow | undefined;
      return row ? toInfo(row) : undefined;
    });
  }

  /** The full write-time summary of a snapshot, with per-part summaries for bidirectional layers. */
  getSummary(id: number): SnapshotSummary | undefined {
    return this.q('reading a summary', () => {
      const rows = this.stmt('SELECT * FROM summaries WHERE snapshot_id = ? ORDER BY rowid').all(
        id,
      ) as SummaryRow[];
      if (rows.length === 0) return undefined;
      const one = (r: SummaryRow): Omit<SnapshotSummary, 'parts'> => ({
        ...scalar(r, r.non_finite),
        timestepNorms: r.timestep_norms ? f32(r.timestep_norms) : null,
        channelNorms: r.channel_norms ? f32(r.channel_norms) : null,
        histogram: { edges: HISTOGRAM_EDGES, counts: u32(r.histogram) },
      });
      const whole = rows.find((r) => r.channel_part === '')!;
      const out: SnapshotSummary = one(whole);
      const parts = rows.filter((r) => r.channel_part !== '');
      if (parts.length > 0) out.parts = Object.fromEntries(parts.map((r) => [r.channel_part, one(r)]));
      return out;
    });
  }

  /**
   * The stored Arrow IPC stream of a snapshot, as-is (to send to the viewer). Throws NotFoundError for an
   * unknown id and ECORRUPT when the stored bytes are not as long as when they were written.
   */
  getTensor(id: number): Uint8Array {
    this.checkOpen();
    if (!this.payloadStmt) {
      // Payloads are read through a second connection without memory mapping: a multi-megabyte BLOB read
      // once costs a page fault per 4 KiB when mapped, and pread() copies it faster.
      this.payloadDb = new Database(this.path, {
        readonly: true,
        fileMustExist: true,
        timeout: this.busyTimeoutMs,
      });
      this.payloadDb.pragma('cache_size = -2048');
      this.payloadStmt = this.payloadDb.prepare(
        'SELECT p.ipc, s.payload_bytes FROM snapshots s LEFT JOIN payloads p ON p.snapshot_id = s.id WHERE s.id = ?',
      );
    }
    const stmt = this.payloadStmt;
    const row = this.q(
      'reading a tensor',
      () => stmt.get(id) as { ipc: Buffer | null; payload_bytes: number } | undefined,
    );
    if (!row) throw NotFoundError.snapshot(id, this.path);
    const where = `${this.path} snapshot ${id}`;
    const damaged = (why: string) =>
      new StoreError('ECORRUPT', `${where}: damaged tensor payload: ${why}`, { file: this.path });
    if (!row.ipc) throw damaged('the payload is missing');
    if (!(row.ipc instanceof Uint8Array)) throw damaged(`stored as ${typeof row.ipc}, not a BLOB`);
    if (row.ipc.byteLength !== row.payload_bytes) {
      throw damaged(`${row.ipc.byteLength} bytes stored, ${row.payload_bytes} written (truncated)`);
    }
    return row.ipc;
  }

  /** getTensor decoded: {shape, dims, data: Float32Array}. Throws ECORRUPT naming the file and id when damaged. */
  readTensor(id: number): DecodedTensor {
    const bytes = this.getTensor(id);
    const decoded = decodeTensor(bytes, `${this.path} snapshot ${id}`, this.path);
    const info = this.getSnapshot(id)!;
    if (decoded.shape.join(',') !== info.shape.join(',')) {
      throw new StoreError(
        'ECORRUPT',
        `${this.path} snapshot ${id}: damaged tensor payload: shape [${decoded.shape}] differs from the recorded [${info.shape}]`,
        { file: this.path },
      );
    }
    return decoded;
  }

  /**
   * The chunk rows of one series, or a NotFoundError naming it. With `maxRows`, the rows come from the
   * sparsest level that still holds at least maxRows snapshots (see chunks.ts), plus the newest snapshot.
   */
  private series(key: SeriesKey, what: string, columns: string, options: SeriesOptions): SeriesRows {
    const runKey = this.runKey(key.run);
    const args = [runKey, key.layer, key.kind, key.part ?? ''];
    const levels = this.q(
      'reading a series',
      () =>
        this.stmt(`
          SELECT c.level, sum(c.count) AS n FROM series s JOIN series_chunks c ON c.series_key = s.key
          WHERE s.run_key = ? AND s.layer = ? AND s.kind = ? AND s.part = ? AND c.channel_part = ''
          GROUP BY c.level`).all(...args) as { level: number; n: number }[],
    );
    const total = levels.find((l) => l.level === 0)?.n ?? 0;
    if (total === 0) throw this.noSeries(key, what, '');
    let level = 0;
    if (options.maxRows !== undefined) {
      for (const l of levels) if (l.level > level && l.n >= options.maxRows) level = l.level;
    }
    const rows = this.q('reading a series', () =>
      this.stmt(`
        SELECT c.channel_part, c.level, c.count, c.width, c.ids, c.iterations, ${columns}
        FROM series s JOIN series_chunks c ON c.series_key = s.key
        WHERE s.run_key = ? AND s.layer = ? AND s.kind = ? AND s.part = ?
          AND (c.level = ? OR (c.level = 0 AND c.chunk = (
            SELECT max(x.chunk) FROM series_chunks x
            WHERE x.series_key = c.series_key AND x.channel_part = c.channel_part AND x.level = 0)))
        ORDER BY c.channel_part, c.level DESC, c.chunk`).all(...args, level),
    ) as ChunkRow[];
    return new SeriesRows(rows, options, level, total);
  }

  private noSeries(key: SeriesKey, what: string, why: string): NotFoundError {
    return new NotFoundError(
      { what: 'series', run: key.run, layer: key.layer, kind: key.kind, part: key.part ?? null },
      `no ${what} data for run ${JSON.stringify(key.run)} layer ${JSON.stringify(key.layer)} kind ${key.kind}${key.part ? ` part ${JSON.stringify(key.part)}` : ''}${why}`,
      this.path,
    );
  }

  /**
   * Per-timestep L2 norms of the recorded iterations of one series (at most `maxRows` rows, evenly spaced),
   * with each row's memory horizon, from the write-time summaries: no tensor is read. Per channel part too
   * for bidirectional concat layers (a part missing at some iteration gives a NaN row).
   */
  flowMatrix(key: SeriesKey, options?: SeriesOptions): FlowMatrix;
  /** @deprecated pass a SeriesKey: flowMatrix({ run, layer, kind, part }, { maxRows }). */
  flowMatrix(run: string, layer: string, kind: Kind, part?: string | null): FlowMatrix;
  flowMatrix(
    keyOrRun: SeriesKey | string,
    optionsOrLayer?: SeriesOptions | string,
    kind?: Kind,
    part?: string | null,
  ): FlowMatrix {
    const [key, options] = seriesArgs(keyOrRun, optionsOrLayer, kind, part);
    const series = this.series(
      key,
      'flow',
      "c.timestep_norms, x'' AS histograms, x'' AS minmax, c.stats",
      options,
    );
    if (series.width === 0) throw this.noSeries(key, 'flow', ": its tensors have no 'timestep' axis");
    const flow: FlowMatrix = {
      ids: series.ids(),
      iterations: series.iterations(),
      timesteps: series.width,
      norms: series.norms(''),
      count: series.count,
      ...series.horizons(''),
    };
    const parts = series.partNames;
    if (parts.length > 0) {
      flow.parts = Object.fromEntries(parts.map((p) => [p, series.norms(p)]));
      flow.partHorizons = Object.fromEntries(
        parts.map((p): [string, HorizonRows] => [p, series.horizons(p)]),
      );
    }
    return flow;
  }

  /**
   * The histograms of the recorded iterations of one series (at most `maxRows`, evenly spaced), with
   * interpolated percentiles. Per channel part too (zero counts where a part is missing at some iteration).
   */
  histogramSeries(key: SeriesKey, options?: SeriesOptions): HistogramSeries;
  /** @deprecated pass a SeriesKey: histogramSeries({ run, layer, kind, part }, { maxRows }). */
  histogramSeries(run: string, layer: string, kind: Kind, part?: string | null): HistogramSeries;
  histogramSeries(
    keyOrRun: SeriesKey | string,
    optionsOrLayer?: SeriesOptions | string,
    kind?: Kind,
    part?: string | null,
  ): HistogramSeries {
    const [key, options] = seriesArgs(keyOrRun, optionsOrLayer, kind, part);
    const series = this.series(
      key,
      'histogram',
      "x'' AS timestep_norms, c.histograms, c.minmax, x'' AS stats",
      options,
    );
    const { counts, minmax } = series.histograms('');
    const n = minmax.length / 2;
    const B = HISTOGRAM_BUCKETS;
    const values = new Float64Array(n * PERCENTILES.length);
    for (let i = 0; i < n; i++) {
      histogramPercentiles(
        counts.subarray(i * B, (i + 1) * B),
        minmax[2 * i]!,
        minmax[2 * i + 1]!,
        PERCENTILES,
        values,
        i * PERCENTILES.length,
      );
    }
    const out: HistogramSeries = {
      ids: series.ids(),
      iterations: series.iterations(),
      edges: HISTOGRAM_EDGES,
      counts,
      percentiles: { p: PERCENTILES, values },
      count: series.count,
    };
    const parts = series.partNames;
    if (parts.length > 0) out.parts = Object.fromEntries(parts.map((p) => [p, series.histograms(p).counts]));
    return out;
  }

  /**
   * The snapshot index of one series as typed-array columns (ids, iterations, loss, whole-tensor summaries,
   * horizon), at most `maxRows` rows evenly spaced: what a page needs to draw a series without its JSON rows.
   */
  seriesIndex(key: SeriesKey, options: SeriesOptions = {}): SeriesIndex {
    const series = this.series(
      key,
      'index',
      "x'' AS timestep_norms, x'' AS histograms, c.minmax, c.stats",
      options,
    );
    const { minmax } = series.histograms('');
    const n = minmax.length / 2;
    const min = new Float64Array(n);
    const max = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      min[i] = minmax[2 * i]!;
      max[i] = minmax[2 * i + 1]!;
    }
    return {
      count: series.count,
      ids: Float64Array.from(series.ids()),
      iterations: Float64Array.from(series.iterations()),
      time: series.stat('', 'time'),
      loss: series.stat('', 'loss'),
      l2: series.stat('', 'l2'),
      maxAbs: series.stat('', 'maxAbs'),
      min,
      max,
      mean: series.stat('', 'mean'),
      std: series.stat('', 'std'),
      nonFinite: series.stat('', 'nonFinite'),
      horizon: series.stat('', 'horizon'),
      t0Ratio: series.stat('', 't0Ratio'),
    };
  }

  /**
   * The training scalars of a run, one series per name (sorted by name), in iteration order. With
   * `maxPoints`, each series is cut into maxPoints / 4 buckets of consecutive points and keeps, per bucket,
   * its first, last, smallest and largest point (NaN values are kept only as first or last), so spikes
   * survive. `count` is the number of points stored.
   */
  scalars(run: string, options: ScalarsOptions = {}): ScalarSeries[] {
    if (options.maxPoints !== undefined && (!Number.isInteger(options.maxPoints) || options.maxPoints < 4)) {
      throw new StoreError('EINVAL', `maxPoints must be an integer >= 4, got ${String(options.maxPoints)}`);
    }
    const key = this.runKey(run);
    return this.q('reading scalars', () => {
      const names = (
        this.stmt('SELECT DISTINCT name FROM scalars WHERE run_key = ? ORDER BY name')
          .pluck()
          .all(key) as string[]
      ).filter((n) => options.names === undefined || options.names.includes(n));
      return names.map((name) => {
        const p = this.scalarPoints(key, name);
        return { ...bucketPoints(p.iterations, p.values, p.times, options.maxPoints), name };
      });
    });
  }

  /**
   * Every point of one scalar, in iteration order (points of one iteration in the order written), as
   * columns. SQLite hands the rows to an aggregate function that writes them into typed arrays: no JS
   * object per row. Measured on 50,000 points: 22 ms, against 50–110 ms for the same rows as arrays
   * through .all() (ORDER BY iteration, rowid: 45 ms, of which 13 for the sort the index cannot give).
   */
  private scalarPoints(runKey: number, name: string): ScalarColumns {
    if (!this.pointsRegistered) {
      this.db.aggregate('gradscope_points', {
        start: 0,
        step: ((n: number, rowid: number, iteration: number, value: number | null, time: number) => {
          this.points!.push(rowid, iteration, value ?? Number.NaN, time);
          return n + 1;
        }) as unknown as (n: number, next: number) => number,
      });
      this.pointsRegistered = true;
    }
    this.points = new PointColumns();
    try {
      // scalars_series is (run_key, name, iteration, value): rows come in iteration order, with points of one
      // iteration by value; PointColumns.ordered() puts those back in the order they were written.
      this.stmt(`
        SELECT gradscope_points(rowid, iteration, value, time) FROM (
          SELECT rowid, iteration, value, time FROM scalars WHERE run_key = ? AND name = ? ORDER BY iteration)`)
        .pluck()
        .get(runKey, name);
      return this.points.ordered();
    } finally {
      this.points = undefined;
    }
  }

  /** Runs SQLite's integrity check; returns 'ok' or the problems found. */
  integrityCheck(): string {
    return this.q('checking integrity', () =>
      (this.db.pragma('integrity_check') as { integrity_check: string }[])
        .map((r) => r.integrity_check)
        .join('\n'),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    try {
      this.payloadDb?.close();
      this.db.close();
    } catch (err) {
      throw fromSqlite(err, this.path, 'closing the database');
    }
  }
}

function seriesArgs(
  keyOrRun: SeriesKey | string,
  optionsOrLayer: SeriesOptions | string | undefined,
  kind: Kind | undefined,
  part: string | null | undefined,
): [SeriesKey, SeriesOptions] {
  if (typeof keyOrRun !== 'string') return [keyOrRun, (optionsOrLayer as SeriesOptions | undefined) ?? {}];
  return [{ run: keyOrRun, layer: optionsOrLayer as string, kind: kind!, part: part ?? null }, {}];
}

/**
 * Opens an existing gradscope database read-only. Throws a StoreError naming the file and the cause:
 * EPATH / ENOENT (bad or missing path), ENOTDB (not a gradscope database), ENEWER (newer schema), EOLDER
 * (an older schema: open it once with openStore to migrate it).
 */
export function openReader(path: string, options: ReaderOptions = {}): Reader {
  const { db, file } = openReaderDb(path, options);
  return new Reader(db, file, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, options.staleAfterMs);
}
