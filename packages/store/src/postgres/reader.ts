// The read side on PostgreSQL: RunReader over a connection pool. Rows come back in the SQLite schema's row
// shapes (schema.ts there), so the records are made by the SQLite reader's own converters (read/*.ts) and
// the series matrices by its SeriesRows; each query asks PostgreSQL only for the rows it needs.
import type {
  DecodedTensor,
  FlowMatrix,
  HistogramSeries,
  LayerInfo,
  RunDetails,
  RunRecord,
  ScalarSeries,
  SeriesIndex,
  SnapshotInfo,
  SnapshotSummary,
} from '@gradscope/format';
import { checkOptions, type OptionKeys } from '@gradscope/format';
import pg from 'pg';
import { LEVEL_STRIDE, MAX_LEVEL } from '../chunks.js';
import { CHUNK_STATS, SUMMARY_STATS, statColumns } from '../columns.js';
import { NotFoundError, StoreError } from '../errors.js';
import { STALE_AFTER_MS } from '../liveness.js';
import type { RunReader, ScalarsOptions, SeriesKey, SeriesOptions } from '../provider.js';
import { type ChunkRow, SeriesRows } from '../read/rows.js';
import { modelOf, optionsOf, toRun } from '../read/runs.js';
import { bucketPoints } from '../read/scalars.js';
import { flowOf, histogramsOf, indexOf, noSeries } from '../read/series.js';
import { summaryOf, toInfo } from '../read/snapshots.js';
import type { RunRow, SnapshotRow, SummaryRow } from '../schema.js';
import { decodeTensor } from '../tensor.js';
import type { SnapshotQuery } from '../types.js';
import { createPool, fromPg, shownUrl } from './connection.js';
import { checkSchema } from './schema.js';
import { CHANNEL } from './writer.js';

export interface PostgresReaderOptions {
  /** A 'running' run whose writer's heartbeat is older than this is reported 'interrupted', ms (default 30 000). */
  staleAfterMs?: number;
  /** Connections of the reader's pool at most (default 10). */
  maxConnections?: number;
}

const READER_OPTIONS = {
  staleAfterMs: true,
  maxConnections: true,
} as const satisfies OptionKeys<PostgresReaderOptions>;

const SNAPSHOT_COLUMNS = `s.id, r.id AS run, s.iteration, s.epoch, s.batch, s.layer, s.layer_class, s.kind, s.part,
  s.channel_parts, s.shape, s.dims, s.loss, s.time, s.non_finite, s.payload_bytes, ${statColumns('snapshots', 's')}`;

/** The first and last snapshot of each series of the runs $1 (two index seeks per series). */
const SERIES_ENDS = `
  SELECT k.key AS series, k.run_key, k.layer, k.kind, k.part, f.id AS first, f.iteration AS first_iteration,
    f.layer_class, f.channel_parts, l.iteration AS last_iteration, l.time AS last_time
  FROM gradscope.series k
  CROSS JOIN LATERAL (SELECT id, iteration, layer_class, channel_parts FROM gradscope.snapshots s
    WHERE s.series_key = k.key ORDER BY iteration, id LIMIT 1) f
  CROSS JOIN LATERAL (SELECT iteration, time FROM gradscope.snapshots s
    WHERE s.series_key = k.key ORDER BY iteration DESC, id DESC LIMIT 1) l
  WHERE k.run_key = ANY($1::bigint[]) ORDER BY f.id`;

interface SeriesEnds {
  series: number;
  run_key: number;
  layer: string;
  kind: RunRow['kinds'][number];
  part: string;
  first: number;
  first_iteration: number;
  layer_class: string;
  channel_parts: string | null;
  last_iteration: number;
  last_time: number;
}

/** The key of run $1 by id, or by name (the most recently started run of that name): at most one row. */
const RUN_KEY = `(SELECT key FROM gradscope.runs WHERE id = $1)
  UNION ALL (SELECT key FROM gradscope.runs WHERE name = $1 ORDER BY started_at DESC, key DESC LIMIT 1)
  LIMIT 1`;

const EMPTY = Buffer.alloc(0);

/** The numbers of a series' snapshots gathered per channel part (float8s, NaN for null, in id order). */
const PART_ARRAYS = ['id', 'iteration', 'loss', 'time', ...SUMMARY_STATS.map((m) => m.column)] as const;
const COLUMN_OF = Object.fromEntries(SUMMARY_STATS.map((m) => [m.field, m.column])) as Record<string, string>;

/**
 * One channel part's rows as one chunk (read/rows.ts's ChunkRow, as the file's series_chunks hold them):
 * timestep norms padded with NaN to the widest row, the per-row statistics in CHUNK_STATS order, NaN for null.
 */
function partChunk(r: Record<string, unknown>, level: number): ChunkRow {
  const n = Number(r.n ?? 0);
  if (n === 0) {
    const none = { ids: EMPTY, iterations: EMPTY, timestep_norms: EMPTY, histograms: EMPTY, minmax: EMPTY };
    return { channel_part: r.channel_part as string, level, count: 0, width: 0, ...none, stats: EMPTY };
  }
  // Row after row, PART_ARRAYS then the norms' byte length, each a big-endian float8 (float8send).
  const rows = r.rows as Buffer;
  const K = PART_ARRAYS.length + 1;
  const col = (c: string) => {
    const k = PART_ARRAYS.indexOf(c as (typeof PART_ARRAYS)[number]);
    return Float64Array.from({ length: n }, (_, i) => rows.readDoubleBE(8 * (i * K + k)));
  };
  const widths = Array.from({ length: n }, (_, i) => rows.readDoubleBE(8 * (i * K + K - 1)) / 4);
  const width = Math.max(0, ...widths);
  let norms = EMPTY;
  if (width > 0 && r.norms) {
    const all = new Float32Array(n * width).fill(Number.NaN);
    const src = r.norms as Buffer;
    let at = 0;
    widths.forEach((w, i) => {
      if (w === 0) return;
      const row = new Float32Array(new Uint8Array(src.subarray(at, at + w * 4)).buffer);
      all.set(row, i * width);
      at += w * 4;
    });
    norms = Buffer.from(all.buffer);
  }
  const f64 = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const min = col('min');
  const max = col('max');
  const minmax = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    minmax[2 * i] = min[i]!;
    minmax[2 * i + 1] = max[i]!;
  }
  const F = CHUNK_STATS.length;
  const stats = new Float64Array(n * F);
  CHUNK_STATS.forEach((f, j) => {
    const values = col(f === 'loss' || f === 'time' ? f : COLUMN_OF[f]!);
    for (let i = 0; i < n; i++) stats[i * F + j] = values[i]!;
  });
  return {
    channel_part: r.channel_part as string,
    level,
    count: n,
    width,
    ids: f64(col('id')),
    iterations: f64(col('iteration')),
    timestep_norms: norms,
    histograms: (r.hists as Buffer | null | undefined) ?? EMPTY,
    minmax: f64(minmax),
    stats: Buffer.from(stats.buffer),
  };
}

export class PostgresReader implements RunReader {
  readonly path: string;
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;
  private closed = false;
  private readonly staleAfterMs: number;
  /** watch()'s listeners and the connection that LISTENs for them (reconnected while any listens). */
  private readonly watchers = new Set<() => void>();
  private listener: pg.Client | undefined;
  private relisten: NodeJS.Timeout | undefined;

  /** @internal use openReader('postgres://…') */
  constructor(
    private readonly url: string,
    options: PostgresReaderOptions = {},
  ) {
    this.path = shownUrl(url);
    this.staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
    this.pool = createPool(url, {
      max: options.maxConnections ?? 10,
      applicationName: 'gradscope reader',
    });
  }

  /** Runs `fn` once the schema is known to be readable; PostgreSQL's errors become StoreErrors naming the URL. */
  private async q<T>(doing: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
    if (this.closed)
      throw new StoreError('ECLOSED', `${this.path}: the reader is closed`, { file: this.path });
    if (!this.ready) {
      this.ready = checkSchema(this.pool, this.url);
      // A failed check (the server down) is tried again by the next query.
      this.ready.catch(() => (this.ready = undefined));
    }
    await this.ready;
    try {
      return await fn(this.pool);
    } catch (err) {
      throw fromPg(err, this.url, doing);
    }
  }

  private async runKey(run: string): Promise<number> {
    const key = await this.q('finding a run', async (p) => {
      const { rows } = await p.query({ name: 'gs_run_key', text: RUN_KEY, values: [run] });
      return rows[0]?.key as number | undefined;
    });
    if (key === undefined) throw NotFoundError.run(run, this.path);
    return key;
  }

  /** Run rows (in the order of `where`) with what the reader derives from their snapshots. */
  private async runRows(where: string, args: unknown[]): Promise<RunRow[]> {
    return this.q('listing runs', async (p) => {
      // One round trip: each run with its snapshot count (from the series' counts, kept by the writer) and
      // the ends of its series (two index seeks each), in the order the series first appear.
      const rows = (
        await p.query(
          `SELECT r.*,
             (SELECT coalesce(sum(k.count), 0)::bigint FROM gradscope.series k WHERE k.run_key = r.key) AS snapshots,
             (SELECT coalesce(json_agg(json_build_object('layer', k.layer, 'kind', k.kind, 'iteration', l.iteration,
                 'time', l.time) ORDER BY f.id), '[]')
              FROM gradscope.series k
              CROSS JOIN LATERAL (SELECT id FROM gradscope.snapshots s
                WHERE s.series_key = k.key ORDER BY iteration, id LIMIT 1) f
              CROSS JOIN LATERAL (SELECT iteration, time FROM gradscope.snapshots s
                WHERE s.series_key = k.key ORDER BY iteration DESC, id DESC LIMIT 1) l
              WHERE k.run_key = r.key) AS ends
           FROM gradscope.runs r ${where}`,
          args,
        )
      ).rows as (Omit<RunRow, 'last_iteration' | 'last_time' | 'layers' | 'kinds'> & {
        ends: { layer: string; kind: RunRow['kinds'][number]; iteration: number; time: number }[];
      })[];
      return rows.map(({ ends, ...r }) => {
        const most = (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs));
        return {
          ...r,
          last_iteration: most(ends.map((e) => e.iteration)),
          last_time: most(ends.map((e) => e.time)),
          layers: [...new Set(ends.map((e) => e.layer))],
          kinds: [...new Set(ends.map((e) => e.kind))],
        };
      });
    });
  }

  /**
   * A run's record. Liveness by heartbeat alone: the servers writing to one database run on several hosts,
   * so a process id says nothing here.
   */
  private toRun(r: RunRow): RunRecord {
    return toRun({ staleAfterMs: this.staleAfterMs }, { ...r, writer: null });
  }

  async listRuns(): Promise<RunRecord[]> {
    return (await this.runRows('ORDER BY r.started_at DESC, r.key DESC', [])).map((r) => this.toRun(r));
  }

  async getRun(run: string): Promise<RunDetails | undefined> {
    const row =
      (await this.runRows('WHERE r.id = $1', [run])).at(0) ??
      (await this.runRows('WHERE r.name = $1 ORDER BY r.started_at DESC, r.key DESC LIMIT 1', [run])).at(0);
    if (!row) return undefined;
    return { ...this.toRun(row), model: modelOf(row.model), options: optionsOf(row.options, row) };
  }

  async requireRun(run: string): Promise<RunDetails> {
    const details = await this.getRun(run);
    if (!details) throw NotFoundError.run(run, this.path);
    return details;
  }

  async listLayers(run: string): Promise<LayerInfo[]> {
    const key = await this.runKey(run);
    return this.q('listing layers', async (p) => {
      const ends = (await p.query(SERIES_ENDS, [[key]])).rows as SeriesEnds[];
      const counts = new Map<number, { n: number; its: number }>();
      for (const r of (
        await p.query(
          `SELECT series_key, count(*) AS n, count(DISTINCT iteration) AS its FROM gradscope.snapshots
           WHERE run_key = $1 GROUP BY series_key`,
          [key],
        )
      ).rows)
        counts.set(r.series_key as number, { n: Number(r.n), its: Number(r.its) });
      const layerIts = new Map<string, number>();
      for (const r of (
        await p.query(
          'SELECT layer, count(DISTINCT iteration) AS its FROM gradscope.snapshots WHERE run_key = $1 GROUP BY layer',
          [key],
        )
      ).rows)
        layerIts.set(r.layer as string, Number(r.its));
      const layers = new Map<string, { info: LayerInfo; series: SeriesEnds[] }>();
      for (const e of ends) {
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
        info.snapshots += counts.get(e.series)?.n ?? 0;
        info.firstIteration = Math.min(info.firstIteration, e.first_iteration);
        info.lastIteration = Math.max(info.lastIteration, e.last_iteration);
        if (e.channel_parts && !info.channelParts)
          info.channelParts = JSON.parse(e.channel_parts) as string[];
      }
      for (const { info, series } of layers.values()) {
        info.iterationCount =
          series.length === 1 ? (counts.get(series[0]!.series)?.its ?? 0) : (layerIts.get(info.layer) ?? 0);
      }
      return [...layers.values()].map((l) => l.info);
    });
  }

  async listSnapshots(query: SnapshotQuery): Promise<SnapshotInfo[]> {
    const key = await this.runKey(query.run);
    const where = ['s.run_key = $1'];
    const args: unknown[] = [key];
    const filters: [unknown, string][] = [
      [query.layer, 's.layer = $'],
      [query.kind, 's.kind = $'],
      [query.part === undefined ? undefined : (query.part ?? ''), 's.part = $'],
      [query.from, 's.iteration >= $'],
      [query.to, 's.iteration <= $'],
      [query.iterations, 's.iteration = ANY($::bigint[])'],
    ];
    for (const [value, clause] of filters) {
      if (value === undefined) continue;
      args.push(value);
      where.push(clause.replace('$', `$${args.length}`));
    }
    let sql = `SELECT ${SNAPSHOT_COLUMNS} FROM gradscope.snapshots s JOIN gradscope.runs r ON r.key = s.run_key
      WHERE ${where.join(' AND ')} ORDER BY ${query.order === 'desc' ? 's.iteration DESC, s.id DESC' : 's.iteration, s.id'}`;
    if (query.limit !== undefined) {
      args.push(query.limit, query.offset ?? 0);
      sql += ` LIMIT $${args.length - 1} OFFSET $${args.length}`;
    }
    return this.q('listing snapshots', async (p) =>
      ((await p.query(sql, args)).rows as SnapshotRow[]).map(toInfo),
    );
  }

  async snapshotsAfter(afterId: number, limit = 1000): Promise<SnapshotInfo[]> {
    return this.q('listing new snapshots', async (p) =>
      (
        (
          await p.query(
            `SELECT ${SNAPSHOT_COLUMNS} FROM gradscope.snapshots s JOIN gradscope.runs r ON r.key = s.run_key
             WHERE s.id > $1 ORDER BY s.id LIMIT $2`,
            [afterId, limit],
          )
        ).rows as SnapshotRow[]
      ).map(toInfo),
    );
  }

  /** gradscope.state's version: every write transaction of every server raises it. */
  async dataVersion(): Promise<number> {
    return this.q(
      'reading the data version',
      async (p) =>
        (await p.query({ name: 'gs_version', text: 'SELECT version FROM gradscope.state' })).rows[0]
          .version as number,
    );
  }

  async getSnapshot(id: number): Promise<SnapshotInfo | undefined> {
    return this.q('reading a snapshot', async (p) => {
      const { rows } = await p.query({
        name: 'gs_snapshot',
        text: `SELECT ${SNAPSHOT_COLUMNS} FROM gradscope.snapshots s JOIN gradscope.runs r ON r.key = s.run_key WHERE s.id = $1`,
        values: [id],
      });
      return rows[0] ? toInfo(rows[0] as SnapshotRow) : undefined;
    });
  }

  async getSummary(id: number): Promise<SnapshotSummary | undefined> {
    return this.q('reading a summary', async (p) =>
      summaryOf(
        (await p.query('SELECT * FROM gradscope.summaries WHERE snapshot_id = $1 ORDER BY ord', [id]))
          .rows as SummaryRow[],
      ),
    );
  }

  async getTensor(id: number): Promise<Uint8Array> {
    const row = await this.q('reading a tensor', async (p) => {
      // As hex text, which pg turns into a Buffer natively (pg's binary results decode every field as
      // UTF-8 text, which would mangle the bytes).
      const { rows } = await p.query({
        name: 'gs_tensor',
        text: `SELECT p.ipc, s.payload_bytes FROM gradscope.snapshots s
               LEFT JOIN gradscope.payloads p ON p.key = s.payload_key WHERE s.id = $1`,
        values: [id],
      });
      return rows[0] as { ipc: Buffer | null; payload_bytes: number } | undefined;
    });
    if (!row) throw NotFoundError.snapshot(id, this.path);
    const damaged = (why: string) =>
      new StoreError('ECORRUPT', `${this.path} snapshot ${id}: damaged tensor payload: ${why}`, {
        file: this.path,
      });
    if (!row.ipc) throw damaged('the payload is missing');
    if (row.ipc.byteLength !== Number(row.payload_bytes)) {
      throw damaged(`${row.ipc.byteLength} bytes stored, ${row.payload_bytes} written (truncated)`);
    }
    return row.ipc;
  }

  async readTensor(id: number): Promise<DecodedTensor> {
    const decoded = decodeTensor(await this.getTensor(id), `${this.path} snapshot ${id}`, this.path);
    const info = (await this.getSnapshot(id))!;
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
   * The rows of one series as SeriesRows: with `maxRows`, the snapshots at the positions the SQLite
   * provider's chunk level holds (see levelFor) and the newest one, else all of them; each part's rows too.
   */
  private async series(
    key: SeriesKey,
    what: string,
    columns: { norms?: boolean; histograms?: boolean },
    options: SeriesOptions,
  ): Promise<SeriesRows> {
    return this.q(`reading a ${what} series`, async (p) => {
      // One round trip: the run, the series, the level of the SQLite provider's series chunks a query with
      // maxRows reads (chunks.ts: the sparsest level L <= MAX_LEVEL still holding maxRows snapshots, level L
      // holding the positions p with p % LEVEL_STRIDE^L = 0, ceil(n / stride^L) of n) and the rows there. No row: no run; a row without a series key: no series (or an empty one).
      // Per channel part one row: its snapshots' numbers as one bytea of big-endian float8s (PART_ARRAYS and
      // the norms' bytes, row after row), the norms and the histograms concatenated: one chunk for SeriesRows,
      // not an object, a Buffer and a hex string per snapshot, and one sort per column set.
      const { rows: found } = await p.query({
        name: `gs_series_${columns.norms ? 'n' : ''}${columns.histograms ? 'h' : ''}`,
        text: `WITH r AS (${RUN_KEY}),
          k AS (SELECT r.key AS run_key, x.key, x.count FROM r LEFT JOIN gradscope.series x
            ON x.run_key = r.key AND x.layer = $2 AND x.kind = $3 AND x.part = $4),
          l AS (SELECT k.*, (SELECT coalesce(max(v), 0) FROM generate_series(1, ${MAX_LEVEL}) v
            WHERE $5::bigint IS NOT NULL AND (k.count + (${LEVEL_STRIDE}::bigint ^ v)::bigint - 1)
              / (${LEVEL_STRIDE}::bigint ^ v)::bigint >= $5::bigint) AS level FROM k),
          w AS (SELECT s.id, row_number() OVER (ORDER BY s.iteration, s.id) - 1 AS rk
            FROM l JOIN gradscope.snapshots s ON s.series_key = l.key
              AND (l.level = 0 OR s.pos % (${LEVEL_STRIDE}::bigint ^ l.level)::bigint = 0 OR s.pos = l.count - 1)),
          nn AS (SELECT count(*) AS n FROM w),
          -- The rows evenRows (read/rows.ts) keeps of n, by rank in (iteration, id) order: round(i (n-1) / (m-1)),
          -- halves up, for i < m; the last alone for m <= 1. Only these are read.
          picks AS (SELECT DISTINCT CASE WHEN $5::bigint <= 1 THEN nn.n - 1
              ELSE (2 * i * (nn.n - 1) + ($5::bigint - 1)) / (2 * ($5::bigint - 1)) END AS rk
            FROM nn, generate_series(0, greatest(coalesce($5::bigint, 1), 1) - 1) i
            WHERE $5::bigint IS NOT NULL AND nn.n > $5::bigint),
          x AS (SELECT m.*, s.id, s.iteration, s.loss, s.time
            FROM w JOIN gradscope.snapshots s ON s.id = w.id
            JOIN gradscope.summaries m ON m.snapshot_id = s.id
            WHERE NOT EXISTS (SELECT 1 FROM picks) OR w.rk IN (SELECT rk FROM picks))
          -- Every part of the level's rows, also one no picked row has (its rows then all NaN, as the file's).
          SELECT l.run_key, l.key AS series, l.count AS total, l.level, pa.channel_part, p.n, p.rows
            ${columns.norms ? ', p.norms' : ''}${columns.histograms ? ', p.hists' : ''}
          FROM l LEFT JOIN (SELECT DISTINCT m.channel_part FROM w
            JOIN gradscope.summaries m ON m.snapshot_id = w.id) pa ON true
          LEFT JOIN (
            SELECT channel_part, count(*) AS n,
              string_agg(${PART_ARRAYS.map((c) => `float8send(coalesce(${c}::float8, 'NaN'))`).join(' || ')}
                || float8send(coalesce(octet_length(timestep_norms), 0)::float8), ''::bytea ORDER BY id) AS rows
              ${columns.norms ? ", string_agg(timestep_norms, ''::bytea ORDER BY id) AS norms" : ''}
              ${columns.histograms ? ", string_agg(histogram, ''::bytea ORDER BY id) AS hists" : ''}
            FROM x GROUP BY channel_part) p ON p.channel_part = pa.channel_part
          ORDER BY pa.channel_part COLLATE "C"`,
        values: [key.run, key.layer, key.kind, key.part ?? '', options.maxRows ?? null],
      });
      const head = found[0] as { series: number | null; total: number | null; level: number } | undefined;
      if (!head) throw NotFoundError.run(key.run, this.path);
      if (head.series === null || !head.total) throw noSeries(this.path, key, what, '');
      const level = Number(head.level);
      const chunks = found.filter((r) => r.channel_part !== null).map((r) => partChunk(r, level));
      return new SeriesRows(chunks, options, level, head.total);
    });
  }

  async flowMatrix(key: SeriesKey, options: SeriesOptions = {}): Promise<FlowMatrix> {
    const rows = await this.series(key, 'flow', { norms: true }, options);
    if (rows.width === 0) throw noSeries(this.path, key, 'flow', ": its tensors have no 'timestep' axis");
    return flowOf(rows);
  }

  async histogramSeries(key: SeriesKey, options: SeriesOptions = {}): Promise<HistogramSeries> {
    return histogramsOf(await this.series(key, 'histogram', { histograms: true }, options));
  }

  async seriesIndex(key: SeriesKey, options: SeriesOptions = {}): Promise<SeriesIndex> {
    return indexOf(await this.series(key, 'index', {}, options));
  }

  async scalars(run: string, options: ScalarsOptions = {}): Promise<ScalarSeries[]> {
    if (options.maxPoints !== undefined && (!Number.isInteger(options.maxPoints) || options.maxPoints < 4)) {
      throw new StoreError('EINVAL', `maxPoints must be an integer >= 4, got ${String(options.maxPoints)}`);
    }
    const out = await this.q('reading scalars', async (p) => {
      // Names in byte order (as SQLite sorts them), whatever the database's collation.
      const { rows } = await p.query({
        name: options.names ? 'gs_scalars_named' : 'gs_scalars',
        text: `SELECT name, iteration, value, time FROM gradscope.scalars WHERE run_key = (${RUN_KEY})
               ${options.names ? 'AND name = ANY($2::text[])' : ''}
               ORDER BY name COLLATE "C", iteration, seq`,
        values: options.names ? [run, options.names] : [run],
        rowMode: 'array',
      });
      const out: ScalarSeries[] = [];
      let from = 0;
      while (from < rows.length) {
        const name = rows[from]![0] as string;
        let to = from;
        while (to < rows.length && rows[to]![0] === name) to++;
        const col = (j: number) => {
          const a = new Float64Array(to - from);
          for (let i = from; i < to; i++) a[i - from] = (rows[i]![j] as number | null) ?? Number.NaN;
          return a;
        };
        out.push({
          ...bucketPoints({ iterations: col(1), values: col(2), times: col(3) }, options.maxPoints),
          name,
        });
        from = to;
      }
      return out;
    });
    // No points: of a run without scalars, or of no run (NotFoundError).
    if (out.length === 0) await this.runKey(run);
    return out;
  }

  /** 'ok', or the snapshots whose payload or summary is missing or of the wrong length. */
  async integrityCheck(): Promise<string> {
    return this.q('checking integrity', async (p) => {
      const { rows } = await p.query(
        `SELECT s.id, s.payload_bytes, octet_length(pl.ipc) AS stored,
           EXISTS (SELECT 1 FROM gradscope.summaries m WHERE m.snapshot_id = s.id AND m.channel_part = '') AS summary
         FROM gradscope.snapshots s LEFT JOIN gradscope.payloads pl ON pl.key = s.payload_key
         WHERE pl.ipc IS NULL OR octet_length(pl.ipc) <> s.payload_bytes
           OR NOT EXISTS (SELECT 1 FROM gradscope.summaries m WHERE m.snapshot_id = s.id AND m.channel_part = '')
         ORDER BY s.id LIMIT 100`,
      );
      if (rows.length === 0) return 'ok';
      return rows
        .map((r) =>
          r.stored === null
            ? `snapshot ${r.id}: payload missing`
            : Number(r.stored) !== Number(r.payload_bytes)
              ? `snapshot ${r.id}: payload of ${r.stored} bytes, ${r.payload_bytes} written`
              : `snapshot ${r.id}: summary missing`,
        )
        .join('\n');
    });
  }

  /**
   * Calls `onChange` after every write transaction any writer commits to the database: a connection of its
   * own LISTENs on the channel the writers NOTIFY (postgres/writer.ts), reconnecting (every second) after the
   * server restarts. Returns the function that stops it.
   */
  watch(onChange: () => void): () => void {
    this.watchers.add(onChange);
    if (this.watchers.size === 1) void this.listen();
    return () => {
      this.watchers.delete(onChange);
      if (this.watchers.size === 0) this.unlisten();
    };
  }

  private async listen(): Promise<void> {
    if (this.closed || this.watchers.size === 0 || this.listener) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'gradscope listener' });
    this.listener = client;
    const again = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      void client.end().catch(() => {});
      if (this.closed || this.watchers.size === 0) return;
      // What was committed while it was down is news too.
      for (const w of this.watchers) w();
      this.relisten = setTimeout(() => void this.listen(), 1000);
      this.relisten.unref();
    };
    client.on('error', again);
    client.on('end', again);
    client.on('notification', () => {
      for (const w of this.watchers) w();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // The socket alone must not keep a process alive.
      (
        client as unknown as { connection?: { stream?: { unref?: () => void } } }
      ).connection?.stream?.unref?.();
    } catch {
      again();
    }
  }

  private unlisten(): void {
    clearTimeout(this.relisten);
    const client = this.listener;
    this.listener = undefined;
    void client?.end().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    this.unlisten();
    await this.pool.end();
  }
}

/** Opens a reader on the gradscope store in a PostgreSQL database; nothing connects until the first query. */
export function openPostgresReader(url: string, options: PostgresReaderOptions = {}): PostgresReader {
  checkOptions(options, READER_OPTIONS, 'openReader', (message) => new StoreError('EINVAL', message));
  return new PostgresReader(url, options);
}
