// openReader: read-only queries for the server and the CLI. Safe to use while trainers write (WAL): each
// query sees the latest committed state.
import Database, { type Statement } from 'better-sqlite3';
import { fromSqlite, StoreError } from './errors.js';
import { HISTOGRAM_BUCKETS, HISTOGRAM_EDGES, histogramPercentiles, PERCENTILES } from './histogram.js';
import {
  type Db,
  DEFAULT_BUSY_TIMEOUT_MS,
  openReaderDb,
  type ReaderDbOptions,
  type SeriesChunkRow,
  withBusyRetry,
} from './sqlite.js';
import { decodeTensor } from './tensor.js';
import type {
  ChannelMatrix,
  DecodedTensor,
  FlowMatrix,
  HistogramSeries,
  Kind,
  LayerInfo,
  RunDetails,
  RunRecord,
  ScalarSummary,
  SnapshotInfo,
  SnapshotQuery,
  SnapshotSummary,
} from './types.js';

export type ReaderOptions = ReaderDbOptions;

interface RunRow {
  key: number;
  id: string;
  name: string;
  started_at: number;
  ended_at: number | null;
  status: RunRecord['status'];
  model: string;
  options: string;
  backend: string;
  tfjs_version: string;
  host: string;
  meta: string;
  snapshots: number;
  last_iteration: number | null;
  layers: string | null;
}

interface SnapshotRow {
  id: number;
  run: string;
  iteration: number;
  epoch: number;
  batch: number;
  layer: string;
  layer_class: string;
  kind: Kind;
  part: string;
  channel_parts: string | null;
  shape: string;
  dims: string;
  loss: number | null;
  time: number;
  non_finite: number;
  payload_bytes: number;
  l2: number | null;
  max_abs: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  s_non_finite: number;
  count: number;
}

interface SummaryRow {
  channel_part: string;
  l2: number | null;
  max_abs: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  non_finite: number;
  count: number;
  timestep_norms: Buffer | null;
  channel_norms: Buffer | null;
  histogram: Buffer;
}

const num = (v: number | null): number => (v === null ? Number.NaN : v);

/** Float32 values of a little-endian BLOB (copied when the Buffer is not 4-byte aligned). */
function f32(buf: Buffer | null): Float32Array | null {
  if (!buf) return null;
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
  return new Float32Array(new Uint8Array(buf).buffer);
}

function u32(buf: Buffer): Uint32Array {
  if (buf.byteOffset % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
  return new Uint32Array(new Uint8Array(buf).buffer);
}

function scalar(
  r: {
    l2: number | null;
    max_abs: number | null;
    min: number | null;
    max: number | null;
    mean: number | null;
    std: number | null;
    count: number;
  },
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
  };
}

const SNAPSHOT_COLUMNS = `s.id, r.id AS run, s.iteration, s.epoch, s.batch, s.layer, s.layer_class, s.kind, s.part,
  s.channel_parts, s.shape, s.dims, s.loss, s.time, s.non_finite, s.payload_bytes, s.l2, s.max_abs, s.min, s.max,
  s.mean, s.std, s.s_non_finite, s.count`;

function toInfo(r: SnapshotRow): SnapshotInfo {
  return {
    id: r.id,
    run: r.run,
    iteration: r.iteration,
    epoch: r.epoch,
    batch: r.batch,
    layer: r.layer,
    layerClass: r.layer_class,
    kind: r.kind,
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

/** The columns the series queries select. */
type ChunkRow = Omit<SeriesChunkRow, 'rowid' | 'chunk'>;

interface Assembled {
  ids: number[];
  iterations: number[];
  width: number;
  norms: Float32Array;
  histograms: Uint32Array;
  minmax: Float64Array;
}

function f64(buf: Buffer): Float64Array {
  if (buf.byteOffset % 8 === 0) return new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 3);
  return new Float64Array(new Uint8Array(buf).buffer);
}

/** The permutation that sorts rows by (iteration, id), or undefined when they already are. */
function rowOrder(ids: number[], its: number[]): number[] | undefined {
  for (let i = 1; i < its.length; i++) {
    if (its[i]! < its[i - 1]! || (its[i] === its[i - 1] && ids[i]! < ids[i - 1]!)) {
      return its.map((_, k) => k).sort((a, b) => its[a]! - its[b]! || ids[a]! - ids[b]!);
    }
  }
  return undefined;
}

/** Concatenates chunk rows into matrices (rows padded with NaN to the widest), reordered by `order`. */
function assemble(chunks: ChunkRow[], what: 'norms' | 'histograms'): Assembled {
  let n = 0;
  let width = 0;
  for (const c of chunks) {
    n += c.count;
    width = Math.max(width, c.width);
  }
  const B = what === 'histograms' ? HISTOGRAM_BUCKETS : 0;
  if (what === 'histograms') width = 0;
  const ids = new Array<number>(n);
  const iterations = new Array<number>(n);
  const norms = new Float32Array(n * width);
  const histograms = new Uint32Array(n * B);
  const minmax = new Float64Array(2 * n);
  const uniform = width === 0 || chunks.every((c) => c.width === width);
  if (!uniform) norms.fill(Number.NaN);
  const normBytes = new Uint8Array(norms.buffer);
  const histBytes = new Uint8Array(histograms.buffer);
  const mmBytes = new Uint8Array(minmax.buffer);
  let row = 0;
  for (const c of chunks) {
    const cIds = f64(c.ids);
    const cIts = f64(c.iterations);
    for (let k = 0; k < c.count; k++) {
      ids[row + k] = cIds[k]!;
      iterations[row + k] = cIts[k]!;
    }
    if (width === 0) {
      // not asked for
    } else if (uniform) {
      normBytes.set(c.timestep_norms, row * width * 4);
    } else {
      for (let k = 0; k < c.count; k++) {
        normBytes.set(
          c.timestep_norms.subarray(k * c.width * 4, (k + 1) * c.width * 4),
          (row + k) * width * 4,
        );
      }
    }
    if (B > 0) {
      histBytes.set(c.histograms, row * B * 4);
      mmBytes.set(c.minmax, row * 16);
    }
    row += c.count;
  }
  return { ids, iterations, width, norms, histograms, minmax };
}

function reorder(a: Assembled, order: number[]): Assembled {
  const { ids, iterations, width, norms, histograms, minmax } = a;
  const B = histograms.length / Math.max(1, ids.length);
  const pick = <T extends Float32Array | Uint32Array | Float64Array>(a: T, w: number): T => {
    const b = new (a.constructor as new (n: number) => T)(a.length);
    for (let to = 0; to < order.length; to++) b.set(a.subarray(order[to]! * w, (order[to]! + 1) * w), to * w);
    return b;
  };
  return {
    ids: order.map((i) => ids[i]!),
    iterations: order.map((i) => iterations[i]!),
    width,
    norms: pick(norms, width),
    histograms: B > 0 ? pick(histograms, B) : histograms,
    minmax: B > 0 ? pick(minmax, 2) : minmax,
  };
}

/** Arguments naming one series: run (id or name), layer, kind and part (null/undefined = whole output). */
export interface SeriesKey {
  run: string;
  layer: string;
  kind: Kind;
  part?: string | null;
}

export class Reader {
  private readonly stmts = new Map<string, Statement>();
  private closed = false;
  private payloadDb: Db | undefined;
  private payloadStmt: Statement | undefined;

  /** @internal use openReader */
  constructor(
    private readonly db: Db,
    /** Absolute path of the database file. */
    readonly path: string,
    private readonly busyTimeoutMs: number,
  ) {}

  private stmt(sql: string): Statement {
    if (this.closed)
      throw new StoreError('ECLOSED', `${this.path}: the reader is closed`, { file: this.path });
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** Runs a query, retrying on a transient lock and naming the file in any error. */
  private q<T>(doing: string, fn: () => T): T {
    return withBusyRetry(fn, this.path, doing, this.busyTimeoutMs);
  }

  private runRows(where: string, args: unknown[]): RunRow[] {
    return this.stmt(`
      SELECT r.*,
        (SELECT count(*) FROM snapshots s WHERE s.run_key = r.key) AS snapshots,
        (SELECT max(iteration) FROM snapshots s WHERE s.run_key = r.key) AS last_iteration,
        (SELECT json_group_array(layer) FROM (
          SELECT layer FROM snapshots s WHERE s.run_key = r.key GROUP BY layer ORDER BY min(id))) AS layers
      FROM runs r ${where}`).all(...args) as RunRow[];
  }

  private toRun(r: RunRow): RunRecord {
    return {
      id: r.id,
      name: r.name,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      status: r.status,
      backend: r.backend,
      tfjsVersion: r.tfjs_version,
      host: r.host,
      snapshots: r.snapshots,
      lastIteration: r.last_iteration,
      layers: r.layers ? (JSON.parse(r.layers) as string[]) : [],
      meta: JSON.parse(r.meta) as Record<string, unknown>,
    };
  }

  /** Every run, newest first. */
  listRuns(): RunRecord[] {
    return this.q('listing runs', () =>
      this.runRows('ORDER BY r.started_at DESC, r.key DESC', []).map((r) => this.toRun(r)),
    );
  }

  /** A run by id, or by name (the most recently started run of that name). Undefined when none matches. */
  getRun(idOrName: string): RunDetails | undefined {
    return this.q('reading a run', () => {
      const rows =
        this.runRows('WHERE r.id = ?', [idOrName]).at(0) ??
        this.runRows('WHERE r.name = ? ORDER BY r.started_at DESC, r.key DESC LIMIT 1', [idOrName]).at(0);
      if (!rows) return undefined;
      return {
        ...this.toRun(rows),
        model: JSON.parse(rows.model),
        options: JSON.parse(rows.options),
      } as RunDetails;
    });
  }

  private runKey(idOrName: string): number {
    const key = this.q(
      'finding a run',
      () =>
        (this.stmt('SELECT key FROM runs WHERE id = ?').pluck().get(idOrName) as number | undefined) ??
        (this.stmt('SELECT key FROM runs WHERE name = ? ORDER BY started_at DESC, key DESC LIMIT 1')
          .pluck()
          .get(idOrName) as number | undefined),
    );
    if (key === undefined) {
      throw new StoreError('ENOTFOUND', `${this.path}: no run with id or name ${JSON.stringify(idOrName)}`, {
        file: this.path,
      });
    }
    return key;
  }

  /** The layers of a run with their kinds, parts and iterations. */
  listLayers(run: string): LayerInfo[] {
    const key = this.runKey(run);
    return this.q('listing layers', () => {
      const rows = this.stmt(`
        SELECT layer, layer_class, kind, part, channel_parts, count(*) AS n, min(id) AS first
        FROM snapshots WHERE run_key = ? GROUP BY layer, kind, part ORDER BY first`).all(key) as {
        layer: string;
        layer_class: string;
        kind: Kind;
        part: string;
        channel_parts: string | null;
        n: number;
      }[];
      const layers = new Map<string, LayerInfo>();
      for (const r of rows) {
        let info = layers.get(r.layer);
        if (!info) {
          info = {
            layer: r.layer,
            layerClass: r.layer_class,
            kinds: {},
            parts: [],
            iterations: [],
            iterationCount: 0,
            snapshots: 0,
          };
          layers.set(r.layer, info);
        }
        const part = r.part === '' ? null : r.part;
        const parts = info.kinds[r.kind];
        if (parts) parts.push(part);
        else info.kinds[r.kind] = [part];
        if (!info.parts.includes(part)) info.parts.push(part);
        info.snapshots += r.n;
        if (r.channel_parts && !info.channelParts)
          info.channelParts = JSON.parse(r.channel_parts) as string[];
      }
      const its = this.stmt(
        'SELECT DISTINCT iteration FROM snapshots WHERE run_key = ? AND layer = ? ORDER BY iteration',
      ).pluck();
      for (const info of layers.values()) {
        info.iterations = its.all(key, info.layer) as number[];
        info.iterationCount = info.iterations.length;
      }
      return [...layers.values()];
    });
  }

  /** The snapshot index with whole-tensor summaries, ordered by iteration then id. */
  listSnapshots(query: SnapshotQuery): SnapshotInfo[] {
    const key = this.runKey(query.run);
    const where = ['s.run_key = ?'];
    const args: unknown[] = [key];
    // Each given filter adds its clause; part null means the whole layer output, stored as ''.
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
      WHERE ${where.join(' AND ')} ORDER BY s.iteration, s.id`;
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
        timestepNorms: f32(r.timestep_norms),
        channelNorms: f32(r.channel_norms),
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
   * The stored Arrow IPC stream of a snapshot, as-is (to send to the viewer). Throws ENOTFOUND for an
   * unknown id and ECORRUPT when the stored bytes are not as long as when they were written.
   */
  getTensor(id: number): Uint8Array {
    if (this.closed)
      throw new StoreError('ECLOSED', `${this.path}: the reader is closed`, { file: this.path });
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
    if (!row)
      throw new StoreError('ENOTFOUND', `${this.path}: no snapshot with id ${id}`, { file: this.path });
    const where = `${this.path} snapshot ${id}`;
    if (!row.ipc)
      throw new StoreError('ECORRUPT', `${where}: damaged tensor payload: the payload is missing`, {
        file: this.path,
      });
    if (!(row.ipc instanceof Uint8Array)) {
      throw new StoreError(
        'ECORRUPT',
        `${where}: damaged tensor payload: stored as ${typeof row.ipc}, not a BLOB`,
        {
          file: this.path,
        },
      );
    }
    if (row.ipc.byteLength !== row.payload_bytes) {
      throw new StoreError(
        'ECORRUPT',
        `${where}: damaged tensor payload: ${row.ipc.byteLength} bytes stored, ${row.payload_bytes} written (truncated)`,
        { file: this.path },
      );
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

  private seriesRows(
    key: SeriesKey,
    columns: string,
  ): { id: number; iteration: number; channel_part: string; [k: string]: unknown }[] {
    const runKey = this.runKey(key.run);
    return this.q(
      'reading a series',
      () =>
        this.stmt(`
        SELECT s.id, s.iteration, m.channel_part, ${columns}
        FROM snapshots s JOIN summaries m ON m.snapshot_id = s.id
        WHERE s.run_key = ? AND s.layer = ? AND s.kind = ? AND s.part = ?
        ORDER BY s.iteration, s.id, m.channel_part`).all(runKey, key.layer, key.kind, key.part ?? '') as {
          id: number;
          iteration: number;
          channel_part: string;
        }[],
    );
  }

  /**
   * Per-timestep L2 norms of every recorded iteration of one series, from the write-time summaries (no
   * tensor is read). Per channel part too for bidirectional concat layers.
   */
  flowMatrix(run: string, layer: string, kind: Kind, part?: string | null): FlowMatrix {
    const key = { run, layer, kind, part };
    const series = this.series(key, 'norms');
    const whole = series.get('');
    if (!whole) this.noSeries(key, 'flow');
    if (whole.width === 0) {
      throw new StoreError(
        'ENOTFOUND',
        `${this.path}: no flow data for run ${JSON.stringify(run)} layer ${JSON.stringify(layer)} kind ${kind}${part ? ` part ${JSON.stringify(part)}` : ''}: its tensors have no 'timestep' axis`,
        { file: this.path },
      );
    }
    const flow: FlowMatrix = {
      ids: whole.ids,
      iterations: whole.iterations,
      timesteps: whole.width,
      norms: whole.norms,
    };
    const parts = [...series.entries()].filter(([p]) => p !== '');
    if (parts.length > 0) flow.parts = Object.fromEntries(parts.map(([p, a]) => [p, a.norms]));
    return flow;
  }

  /**
   * The per-series chunk rows of one (run, layer, kind, part), assembled per channel part ('' = whole) in
   * (iteration, id) order.
   */
  private series(key: SeriesKey, what: 'norms' | 'histograms'): Map<string, Assembled> {
    const runKey = this.runKey(key.run);
    const columns =
      what === 'norms'
        ? "c.timestep_norms, x'' AS histograms, x'' AS minmax"
        : "x'' AS timestep_norms, c.histograms, c.minmax";
    const rows = this.q('reading a series', () =>
      this.stmt(`
        SELECT c.channel_part, c.count, c.width, c.ids, c.iterations, ${columns}
        FROM series s JOIN series_chunks c ON c.series_key = s.key
        WHERE s.run_key = ? AND s.layer = ? AND s.kind = ? AND s.part = ?
        ORDER BY c.channel_part, c.chunk`).all(runKey, key.layer, key.kind, key.part ?? ''),
    ) as ChunkRow[];
    const byPart = new Map<string, ChunkRow[]>();
    for (const r of rows) {
      const list = byPart.get(r.channel_part);
      if (list) list.push(r);
      else byPart.set(r.channel_part, [r]);
    }
    const out = new Map<string, Assembled>();
    for (const [p, list] of byPart) out.set(p, assemble(list, what));
    // Parts were appended with their whole tensor: one order (by iteration, then id) for all.
    const whole = out.get('');
    const order = whole ? rowOrder(whole.ids, whole.iterations) : undefined;
    if (order) for (const [p, a] of out) out.set(p, reorder(a, order));
    return out;
  }

  /** Per-channel L2 norms of every recorded iteration of one series. */
  channelMatrix(run: string, layer: string, kind: Kind, part?: string | null): ChannelMatrix {
    const m = this.matrix({ run, layer, kind, part }, 'channel_norms', 'channel').flow;
    return { ids: m.ids, iterations: m.iterations, channels: m.timesteps, norms: m.norms };
  }

  private matrix(
    key: SeriesKey,
    column: 'timestep_norms' | 'channel_norms',
    what: string,
  ): { flow: FlowMatrix } {
    const rows = this.seriesRows(key, `m.${column} AS v`) as unknown as {
      id: number;
      iteration: number;
      channel_part: string;
      v: Buffer | null;
    }[];
    const ids: number[] = [];
    const iterations: number[] = [];
    let width = 0;
    const partNames: string[] = [];
    for (const r of rows) {
      if (r.channel_part === '') {
        ids.push(r.id);
        iterations.push(r.iteration);
      } else if (!partNames.includes(r.channel_part)) {
        partNames.push(r.channel_part);
      }
      if (r.v) width = Math.max(width, r.v.byteLength >>> 2);
    }
    if (ids.length === 0) this.noSeries(key, what);
    if (width === 0 && rows.every((r) => !r.v)) {
      const axis = column === 'timestep_norms' ? "'timestep'" : 'channel';
      throw new StoreError(
        'ENOTFOUND',
        `${this.path}: no ${what} data for run ${JSON.stringify(key.run)} layer ${JSON.stringify(key.layer)} kind ${key.kind}${key.part ? ` part ${JSON.stringify(key.part)}` : ''}: its tensors have no ${axis} axis`,
        { file: this.path },
      );
    }
    const n = ids.length;
    const whole = new Float32Array(n * width);
    const parts: Record<string, Float32Array> = {};
    for (const p of partNames) parts[p] = new Float32Array(n * width);
    if (rows.some((r) => !r.v || r.v.byteLength >>> 2 !== width)) {
      whole.fill(Number.NaN);
      for (const p of partNames) parts[p]!.fill(Number.NaN);
    }
    let row = -1;
    for (const r of rows) {
      if (r.channel_part === '') row++;
      if (!r.v) continue;
      const target = r.channel_part === '' ? whole : parts[r.channel_part]!;
      new Uint8Array(target.buffer, row * width * 4, r.v.byteLength).set(r.v);
    }
    const flow: FlowMatrix = { ids, iterations, timesteps: width, norms: whole };
    if (partNames.length > 0) flow.parts = parts;
    return { flow };
  }

  private noSeries(key: SeriesKey, what: string): never {
    throw new StoreError(
      'ENOTFOUND',
      `${this.path}: no ${what} data for run ${JSON.stringify(key.run)} layer ${JSON.stringify(key.layer)} kind ${key.kind}${key.part ? ` part ${JSON.stringify(key.part)}` : ''}`,
      { file: this.path },
    );
  }

  /** The histograms of every recorded iteration of one series, with interpolated percentiles. */
  histogramSeries(run: string, layer: string, kind: Kind, part?: string | null): HistogramSeries {
    const key = { run, layer, kind, part };
    const series = this.series(key, 'histograms');
    const whole = series.get('');
    if (!whole) this.noSeries(key, 'histogram');
    const n = whole.ids.length;
    const B = HISTOGRAM_BUCKETS;
    const values = new Float64Array(n * PERCENTILES.length);
    for (let i = 0; i < n; i++) {
      histogramPercentiles(
        whole.histograms.subarray(i * B, (i + 1) * B),
        whole.minmax[2 * i]!,
        whole.minmax[2 * i + 1]!,
        PERCENTILES,
        values,
        i * PERCENTILES.length,
      );
    }
    const out: HistogramSeries = {
      ids: whole.ids,
      iterations: whole.iterations,
      edges: HISTOGRAM_EDGES,
      counts: whole.histograms,
      percentiles: { p: PERCENTILES, values },
    };
    const parts = [...series.entries()].filter(([p]) => p !== '');
    if (parts.length > 0) out.parts = Object.fromEntries(parts.map(([p, a]) => [p, a.histograms]));
    return out;
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

/**
 * Opens an existing gradscope database read-only. Throws a StoreError naming the file and the cause:
 * EPATH / ENOENT (bad or missing path), ENOTDB (not a gradscope database), ENEWER (newer schema).
 */
export function openReader(path: string, options: ReaderOptions = {}): Reader {
  const { db, file } = openReaderDb(path, options);
  return new Reader(db, file, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
}
