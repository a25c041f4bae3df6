// Runs and their layers. Listings seek the two ends of each series (SERIES_ENDS) and count over the
// snapshots_flow index: no query reads every snapshot row of a run, so they cost the same at 50,000
// snapshots as at 1,000.
import type { CaptureOptions, Kind, LayerInfo, RunDetails, RunRecord } from '@gradscope/format';
import { NotFoundError } from '../errors.js';
import { writerGone } from '../liveness.js';
import { modelOf } from '../operations.js';
import type { RunRow } from '../schema.js';
import type { ReadContext } from './context.js';

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

/** The first and last snapshot of one series (a row of SERIES_ENDS, or of the PostgreSQL reader's). */
export interface SeriesEnds {
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

/** The series of a run that hold snapshots, in the order they first appear (two index seeks each). */
function seriesEnds(c: ReadContext, runKey: number): SeriesEnds[] {
  return c.stmt(SERIES_ENDS).all(runKey) as SeriesEnds[];
}

function runRows(c: ReadContext, where: string, args: unknown[]): RunRow[] {
  const rows = c
    .stmt(`
      SELECT r.*, (SELECT count(*) FROM snapshots s WHERE s.run_key = r.key) AS snapshots
      FROM runs r ${where}`)
    .all(...args) as Omit<RunRow, 'last_iteration' | 'last_time' | 'layers' | 'kinds'>[];
  return rows.map((r) => withEnds(r, seriesEnds(c, r.key)));
}

/** A run's row with what is derived from the ends of its series (any backend's). */
export function withEnds(
  r: Omit<RunRow, 'last_iteration' | 'last_time' | 'layers' | 'kinds'>,
  series: Pick<SeriesEnds, 'layer' | 'kind' | 'last_iteration' | 'last_time'>[],
): RunRow {
  const most = (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs));
  return {
    ...r,
    last_iteration: most(series.map((e) => e.last_iteration)),
    last_time: most(series.map((e) => e.last_time)),
    layers: [...new Set(series.map((e) => e.layer))],
    kinds: [...new Set(series.map((e) => e.kind))],
  };
}

/** 'interrupted' for a run left 'running' by a writer that is gone (see liveness.ts). */
function status(c: Pick<ReadContext, 'staleAfterMs'>, r: RunRow): RunRecord['status'] {
  if (r.status !== 'running') return r.status;
  const lastSign = Math.max(r.heartbeat_at ?? 0, r.started_at, r.last_time ?? 0);
  return writerGone(r.writer, lastSign, Date.now(), c.staleAfterMs) ? 'interrupted' : 'running';
}

/** A run's record from its row (any backend's: `c` gives the staleness bound of liveness). */
export function toRun(c: Pick<ReadContext, 'staleAfterMs'>, r: RunRow): RunRecord {
  return {
    id: r.id,
    name: r.name,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    status: status(c, r),
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

/** Capture options as recorded, with `capture` and `layers` derived from the snapshots when missing. */
export function optionsOf(json: string, row: RunRow): CaptureOptions {
  const stored = JSON.parse(json) as Partial<CaptureOptions>;
  return {
    mode: 'batch',
    ...stored,
    capture: stored.capture ?? row.kinds,
    layers: stored.layers ?? row.layers,
  };
}

export function listRuns(c: ReadContext): RunRecord[] {
  return c.q('listing runs', () =>
    runRows(c, 'ORDER BY r.started_at DESC, r.key DESC', []).map((r) => toRun(c, r)),
  );
}

export function getRun(c: ReadContext, run: string): RunDetails | undefined {
  return c.q('reading a run', () => {
    const row =
      runRows(c, 'WHERE r.id = ?', [run]).at(0) ??
      runRows(c, 'WHERE r.name = ? ORDER BY r.started_at DESC, r.key DESC LIMIT 1', [run]).at(0);
    if (!row) return undefined;
    return { ...toRun(c, row), model: modelOf(row.model), options: optionsOf(row.options, row) };
  });
}

export function requireRun(c: ReadContext, run: string): RunDetails {
  const details = getRun(c, run);
  if (!details) throw NotFoundError.run(run, c.path);
  return details;
}

/** The layers of a run from the ends of its series and counts over the snapshots_flow index. */
export function listLayers(c: ReadContext, run: string): LayerInfo[] {
  const key = c.runKey(run);
  return c.q('listing layers', () => {
    const range = 'run_key = ? AND layer = ? AND kind = ? AND part = ?';
    const count = c.stmt(`SELECT count(*) FROM snapshots WHERE ${range}`).pluck();
    const distinct = c.stmt(`SELECT count(DISTINCT iteration) FROM snapshots WHERE ${range}`).pluck();
    const layerDistinct = c
      .stmt('SELECT count(DISTINCT iteration) FROM snapshots WHERE run_key = ? AND layer = ?')
      .pluck();
    return layersOf(
      seriesEnds(c, key),
      (e) => count.get(key, e.layer, e.kind, e.part) as number,
      (layer, [one, ...more]) =>
        (more.length === 0
          ? distinct.get(key, one!.layer, one!.kind, one!.part)
          : layerDistinct.get(key, layer)) as number,
    );
  });
}

/**
 * The layers of a run (any backend's) from the ends of its series in the order they first appear, the
 * snapshot count of a series, and the distinct iterations of a layer: over its one series, or, when several
 * series share the layer, over the layer's.
 */
export function layersOf<E extends SeriesEnds>(
  ends: E[],
  snapshots: (series: E) => number,
  iterations: (layer: string, series: E[]) => number,
): LayerInfo[] {
  const layers = new Map<string, { info: LayerInfo; series: E[] }>();
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
    info.snapshots += snapshots(e);
    info.firstIteration = Math.min(info.firstIteration, e.first_iteration);
    info.lastIteration = Math.max(info.lastIteration, e.last_iteration);
    if (e.channel_parts && !info.channelParts) info.channelParts = JSON.parse(e.channel_parts) as string[];
  }
  for (const { info, series } of layers.values()) info.iterationCount = iterations(info.layer, series);
  return [...layers.values()].map((l) => l.info);
}
