// Runs and their layers on PostgreSQL: one round trip per listing, the ends of each series found by two
// index seeks; the records made by the SQLite reader's converters (read/runs.ts).
import type { Kind, LayerInfo, RunDetails, RunRecord } from '@gradscope/format';
import { NotFoundError } from '../errors.js';
import { modelOf } from '../operations.js';
import { layersOf, optionsOf, type SeriesEnds, toRun, withEnds } from '../read/runs.js';
import type { RunRow } from '../schema.js';
import type { PgReadContext } from './read-context.js';

/** The first and last snapshot of series k (a LATERAL join each: one index seek). */
const ENDS_OF_K = `CROSS JOIN LATERAL (SELECT id, iteration, layer_class, channel_parts FROM gradscope.snapshots s
    WHERE s.series_key = k.key ORDER BY iteration, id LIMIT 1) f
  CROSS JOIN LATERAL (SELECT iteration, time FROM gradscope.snapshots s
    WHERE s.series_key = k.key ORDER BY iteration DESC, id DESC LIMIT 1) l`;

/** The first and last snapshot of each series of the runs $1 (two index seeks per series). */
const SERIES_ENDS = `
  SELECT k.key AS series, k.run_key, k.layer, k.kind, k.part, f.id AS first, f.iteration AS first_iteration,
    f.layer_class, f.channel_parts, l.iteration AS last_iteration, l.time AS last_time
  FROM gradscope.series k ${ENDS_OF_K}
  WHERE k.run_key = ANY($1::bigint[]) ORDER BY f.id`;

/** A row of SERIES_ENDS: read/runs.ts's SeriesEnds with the series' and run's keys. */
interface PgSeriesEnds extends SeriesEnds {
  series: number;
  run_key: number;
}

/** Run rows (in the order of `where`) with what the reader derives from their snapshots. */
function runRows(c: PgReadContext, where: string, args: unknown[]): Promise<RunRow[]> {
  return c.q('listing runs', async (p) => {
    // One round trip: each run with its snapshot count (from the series' counts, kept by the writer) and
    // the ends of its series (two index seeks each), in the order the series first appear.
    const rows = (
      await p.query(
        `SELECT r.*,
           (SELECT coalesce(sum(k.count), 0)::bigint FROM gradscope.series k WHERE k.run_key = r.key) AS snapshots,
           (SELECT coalesce(json_agg(json_build_object('layer', k.layer, 'kind', k.kind,
               'last_iteration', l.iteration, 'last_time', l.time) ORDER BY f.id), '[]')
            FROM gradscope.series k ${ENDS_OF_K}
            WHERE k.run_key = r.key) AS ends
         FROM gradscope.runs r ${where}`,
        args,
      )
    ).rows as (Omit<RunRow, 'last_iteration' | 'last_time' | 'layers' | 'kinds'> & {
      ends: { layer: string; kind: Kind; last_iteration: number; last_time: number }[];
    })[];
    return rows.map(({ ends, ...r }) => withEnds(r, ends));
  });
}

/**
 * A run's record. Liveness by heartbeat alone: the servers writing to one database run on several hosts,
 * so a process id says nothing here.
 */
function record(c: PgReadContext, r: RunRow): RunRecord {
  return toRun(c, { ...r, writer: null });
}

export async function listRuns(c: PgReadContext): Promise<RunRecord[]> {
  return (await runRows(c, 'ORDER BY r.started_at DESC, r.key DESC', [])).map((r) => record(c, r));
}

export async function getRun(c: PgReadContext, run: string): Promise<RunDetails | undefined> {
  const row =
    (await runRows(c, 'WHERE r.id = $1', [run])).at(0) ??
    (await runRows(c, 'WHERE r.name = $1 ORDER BY r.started_at DESC, r.key DESC LIMIT 1', [run])).at(0);
  if (!row) return undefined;
  return { ...record(c, row), model: modelOf(row.model), options: optionsOf(row.options, row) };
}

export async function requireRun(c: PgReadContext, run: string): Promise<RunDetails> {
  const details = await getRun(c, run);
  if (!details) throw NotFoundError.run(run, c.path);
  return details;
}

/** The layers of a run from the ends of its series and the counts of its series and layers. */
export async function listLayers(c: PgReadContext, run: string): Promise<LayerInfo[]> {
  const key = await c.runKey(run);
  return c.q('listing layers', async (p) => {
    const ends = (await p.query(SERIES_ENDS, [[key]])).rows as PgSeriesEnds[];
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
    return layersOf(
      ends,
      (e) => counts.get(e.series)?.n ?? 0,
      (layer, series) =>
        series.length === 1 ? (counts.get(series[0]!.series)?.its ?? 0) : (layerIts.get(layer) ?? 0),
    );
  });
}
