// One snapshot of a run's state that every part of the run page is drawn from. A running run grows while the page
// asks for its pieces (the series index, each flow, the loss, the diagnosis), and each piece has its own pace:
// snapshots arrive layer by layer and kind by kind, the capture sends the loss in batches of 50 steps. Drawn as
// they came, the iteration selectors said 160/320, the flow map 144/304 and the loss chart 300 steps. A frame
// fixes one bound, the newest iteration that every piece has reached, and clips every piece to it.
import { decodeMatrix, type EncodedMatrix, encodeMatrix, type HorizonRows } from '@gradscope/format';
import type {
  FlowResponse,
  HistogramsResponse,
  RunDetails,
  RunRecord,
  ScalarSeriesJson,
  ScalarsResponse,
  SeriesKey,
  SnapshotInfo,
} from './api';
import { type DataCache, type SeriesData, seriesCacheKey, sharedRead } from './data';

/** The losses a frame waits for: the per-step batch loss and the probe loss (val_* come once per epoch). */
const FRAME_LOSSES = ['loss', 'probe/loss'];

/**
 * The bound of a frame: the smallest of the newest iterations each piece has reached (null entries: pieces with
 * nothing yet, which bound nothing); null (no bound) when nothing has any.
 */
export function frameBound(lasts: readonly (number | null | undefined)[]): number | null {
  let bound: number | null = null;
  for (const v of lasts)
    if (v !== null && v !== undefined && Number.isFinite(v)) bound = bound === null ? v : Math.min(bound, v);
  return bound;
}

/** Rows of an ascending iteration list at or before `upTo`. */
function rowsUpTo(iterations: ArrayLike<number>, upTo: number): number {
  let n = 0;
  while (n < iterations.length && iterations[n]! <= upTo) n++;
  return n;
}

/** The first `n` rows of a row-major encoded matrix of `rows` rows. */
function firstRows(m: EncodedMatrix, rows: number, n: number): EncodedMatrix {
  if (n === rows) return m;
  const a = decodeMatrix(m);
  const cols = rows > 0 ? a.length / rows : 0;
  const shape = m.shape.length > 1 ? [n, ...m.shape.slice(1)] : [n];
  return encodeMatrix(a.slice(0, n * cols), shape);
}

function clipHorizons<T extends HorizonRows>(rows: T, n: number): HorizonRows {
  return { horizon: rows.horizon.slice(0, n), t0Ratio: rows.t0Ratio.slice(0, n) };
}

/** One snapshot per row: what /flow and /histograms answer for a series. */
interface PerSnapshotRows {
  count: number;
  ids: number[];
  iterations: number[];
  parts?: Record<string, EncodedMatrix>;
}

/**
 * The rows of a per-snapshot response at or before `upTo` (null when that is every row): how many it had and
 * keeps, and its count, ids, iterations and parts' matrices cut to them.
 */
function keptRows(
  res: PerSnapshotRows,
  upTo: number | null,
): { rows: number; n: number; cut: PerSnapshotRows } | null {
  if (upTo === null) return null;
  const rows = res.iterations.length;
  const n = rowsUpTo(res.iterations, upTo);
  if (n === rows) return null;
  const cut: PerSnapshotRows = {
    count: res.count - (rows - n),
    ids: res.ids.slice(0, n),
    iterations: res.iterations.slice(0, n),
  };
  if (res.parts)
    cut.parts = Object.fromEntries(Object.entries(res.parts).map(([k, m]) => [k, firstRows(m, rows, n)]));
  return { rows, n, cut };
}

/** A /flow response without its rows after `upTo` (the same object when there are none). */
export function clipFlow(flow: FlowResponse, upTo: number | null): FlowResponse {
  const kept = keptRows(flow, upTo);
  if (!kept) return flow;
  const { rows, n, cut } = kept;
  const out: FlowResponse = {
    ...flow,
    ...clipHorizons(flow, n),
    ...cut,
    norms: firstRows(flow.norms, rows, n),
  };
  if (flow.partHorizons)
    out.partHorizons = Object.fromEntries(
      Object.entries(flow.partHorizons).map(([k, h]) => [k, clipHorizons(h, n)]),
    );
  return out;
}

/** A /histograms response without its rows after `upTo` (the same object when there are none). */
export function clipHistograms(hist: HistogramsResponse, upTo: number | null): HistogramsResponse {
  const kept = keptRows(hist, upTo);
  if (!kept) return hist;
  const { rows, n, cut } = kept;
  return {
    ...hist,
    ...cut,
    counts: firstRows(hist.counts, rows, n),
    percentiles: { p: hist.percentiles.p, values: firstRows(hist.percentiles.values, rows, n) },
  };
}

/**
 * Scalars without their points after `upTo`. A series the server downsampled (count above its points) loses
 * the stored points its dropped ones stood for, in proportion.
 */
export function clipScalars(res: ScalarsResponse, upTo: number | null): ScalarsResponse {
  if (upTo === null) return res;
  return {
    series: res.series.map((s): ScalarSeriesJson => {
      const its = decodeMatrix(s.iterations);
      const rows = its.length;
      const n = rowsUpTo(its, upTo);
      if (n === rows) return s;
      const count = s.count === rows ? n : Math.round((s.count * n) / Math.max(1, rows));
      return {
        ...s,
        count,
        iterations: firstRows(s.iterations, rows, n),
        values: firstRows(s.values, rows, n),
        times: s.times ? firstRows(s.times, rows, n) : s.times,
      };
    }),
  };
}

/** The newest iteration of the loss series a frame waits for (null: none recorded). */
export function lossLast(res: ScalarsResponse): number | null {
  return frameBound(
    res.series
      .filter((s) => FRAME_LOSSES.includes(s.name))
      .map((s) => {
        const its = decodeMatrix(s.iterations);
        return its.length ? its[its.length - 1]! : null;
      }),
  );
}

/**
 * How far the loss may lag the snapshots in flight: the capture sends it in batches of 50 steps (capture's
 * SCALAR_BATCH_STEPS), read back and written after the snapshots; two batches leave room for that.
 */
const LOSS_LAG_STEPS = 100;

/**
 * A frame's bound from the newest iteration of each piece (series, diagnosis) and of the loss, and the shown
 * series' capture iterations. Only pieces in flight bound it: a series at most one capture behind the newest
 * piece, the loss at most LOSS_LAG_STEPS (or one capture) behind. A piece further behind has stopped (a kind
 * no longer recorded, a loss no longer sent): waiting for it would stop the page; its view ends where it ends.
 */
export function boundOf(
  lasts: readonly (number | null)[],
  loss: number | null,
  captures: readonly number[],
): { upTo: number | null; heldByLoss: boolean } {
  const newest = lasts.reduce<number | null>(
    (m, v) => (v === null ? m : m === null ? v : Math.max(m, v)),
    null,
  );
  if (newest === null) return { upTo: loss, heldByLoss: false };
  const previous = captures.filter((c) => c < newest).at(-1);
  const interval = previous === undefined ? newest : newest - previous;
  const inFlight = lasts.filter((v): v is number => v !== null && v >= newest - interval);
  const withoutLoss = frameBound(inFlight);
  const lossBounds = loss !== null && loss >= newest - Math.max(interval, LOSS_LAG_STEPS);
  const upTo = lossBounds ? frameBound([withoutLoss, loss]) : withoutLoss;
  return { upTo, heldByLoss: lossBounds && withoutLoss !== null && loss! < withoutLoss };
}

/** What a frame is made from: the run, and the pieces' newest iterations as the page read them. */
export interface FrameInput {
  data: DataCache;
  record: RunRecord;
  run: RunDetails;
  /** The shown series' snapshot rows (its index). */
  snapshots: readonly SnapshotInfo[];
  /** The other series the page draws (the horizons, each layer's evidence). */
  keys: readonly SeriesKey[];
  /** The iteration the diagnosis was read at (read first: everything read after it has reached it). */
  diagnosisIteration: number | null;
  /** Points of the loss chart (the frame reads the loss once with them). */
  lossPoints: number;
}

/**
 * One frame of a run page: the data every view reads (SeriesData), clipped to `upTo`, the newest iteration every
 * piece has reached. A finished run is not bounded (nothing changes). Each flow and each scalar read is made
 * once per frame, so the views of one render share them.
 */
export class RunFrame implements SeriesData {
  private readonly flows = new Map<string, Promise<FlowResponse>>();
  private readonly scalarReads = new Map<number, Promise<ScalarsResponse>>();

  private constructor(
    private readonly data: DataCache,
    /** The newest iteration the page shows; null: every one (a finished run). */
    readonly upTo: number | null,
    /** True when the loss (sent in batches) held the frame back behind stored snapshots. */
    readonly heldByLoss: boolean,
  ) {}

  get api() {
    return this.data.api;
  }

  /** A frame over everything (a finished run, or the compare page's runs): no bound. */
  static whole(data: DataCache): RunFrame {
    return new RunFrame(data, null, false);
  }

  /** Reads the pieces of a running run once and bounds the frame by the least advanced of them. */
  static async of(input: FrameInput): Promise<RunFrame> {
    const { data, record, run } = input;
    if (run.status !== 'running') return RunFrame.whole(data);
    const [flows, scalars] = await Promise.all([
      Promise.all(input.keys.map((k) => data.flow(run.id, k).catch(() => null))),
      data.scalars(record, input.lossPoints).catch(() => null),
    ]);
    const captures = [...new Set(input.snapshots.map((x) => x.iteration))].sort((a, b) => a - b);
    const lasts = [
      captures.at(-1) ?? null,
      input.diagnosisIteration,
      ...flows.map((f) => (f?.iterations.length ? f.iterations[f.iterations.length - 1]! : null)),
    ];
    const { upTo, heldByLoss } = boundOf(lasts, scalars ? lossLast(scalars) : null, captures);
    const frame = new RunFrame(data, upTo, heldByLoss);
    // The reads just made are the frame's: the views get these, clipped, not newer ones.
    input.keys.forEach((k, i) => {
      const f = flows[i];
      if (f) frame.flows.set(seriesCacheKey(run.id, k), Promise.resolve(f));
    });
    if (scalars) frame.scalarReads.set(input.lossPoints, Promise.resolve(scalars));
    return frame;
  }

  /** The shown series' rows up to the frame's bound. */
  snapshotsUpTo<T extends { iteration: number }>(rows: readonly T[]): T[] {
    const upTo = this.upTo;
    return upTo === null ? [...rows] : rows.filter((x) => x.iteration <= upTo);
  }

  async flow(run: string, key: SeriesKey): Promise<FlowResponse> {
    const read = sharedRead(this.flows, seriesCacheKey(run, key), () => this.data.flow(run, key));
    return clipFlow(await read, this.upTo);
  }

  async histograms(run: string, key: SeriesKey): Promise<HistogramsResponse> {
    return clipHistograms(await this.data.histograms(run, key), this.upTo);
  }

  async scalars(run: RunRecord, maxPoints: number): Promise<ScalarsResponse> {
    const read = sharedRead(this.scalarReads, maxPoints, () => this.data.scalars(run, maxPoints));
    return clipScalars(await read, this.upTo);
  }

  partSnapshots(
    run: string,
    layer: string,
    kind: SeriesKey['kind'],
    parts: readonly (string | null)[],
    iterations: readonly number[],
  ): Promise<SnapshotInfo[]> {
    return this.data.partSnapshots(run, layer, kind, parts, iterations);
  }
}
