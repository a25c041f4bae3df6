// The snapshot index (its rows with their whole-tensor summaries) and the full summary of one snapshot.
import type { Kind, SnapshotInfo, SnapshotSummary } from '@gradscope/format';
import { statColumns, statsOfRow } from '../columns.js';
import { HISTOGRAM_EDGES } from '../histogram.js';
import type { SnapshotRow, SummaryRow } from '../schema.js';
import type { SnapshotQuery } from '../types.js';
import type { ReadContext } from './context.js';
import { f32, u32 } from './rows.js';

/** The columns of a snapshot's index row (SnapshotRow), over snapshots s JOIN runs r: both backends'. */
export const SNAPSHOT_COLUMNS = `s.id, r.id AS run, s.iteration, s.epoch, s.batch, s.layer, s.layer_class, s.kind, s.part,
  s.channel_parts, s.shape, s.dims, s.loss, s.time, s.non_finite, s.payload_bytes, ${statColumns('snapshots', 's')}`;

/** A snapshot's index entry from its row (any backend's). */
export function toInfo(r: SnapshotRow): SnapshotInfo {
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
    loss: r.loss ?? Number.NaN,
    time: r.time,
    nonFinite: r.non_finite,
    payloadBytes: r.payload_bytes,
    summary: statsOfRow(r as unknown as Record<string, unknown>, 'snapshots'),
  };
}

/**
 * The SQL of a snapshot listing, in either backend's dialect: `?` placeholders in the order of `args`, the
 * tables in `schema` (a prefix: '' or 'gradscope.'), the iterations filter as `iterationsIn` spells it.
 */
export function snapshotListing(
  query: SnapshotQuery,
  runKey: number,
  schema: string,
  iterationsIn: (iterations: number[]) => [unknown, string],
): { sql: string; args: unknown[] } {
  const where = ['s.run_key = ?'];
  const args: unknown[] = [runKey];
  const filters: [unknown, string][] = [
    [query.layer, 's.layer = ?'],
    [query.kind, 's.kind = ?'],
    [query.part === undefined ? undefined : (query.part ?? ''), 's.part = ?'],
    [query.from, 's.iteration >= ?'],
    [query.to, 's.iteration <= ?'],
    query.iterations ? iterationsIn(query.iterations) : [undefined, ''],
  ];
  for (const [value, clause] of filters) {
    if (value === undefined) continue;
    where.push(clause);
    args.push(value);
  }
  let sql = `SELECT ${SNAPSHOT_COLUMNS} FROM ${schema}snapshots s JOIN ${schema}runs r ON r.key = s.run_key
    WHERE ${where.join(' AND ')} ORDER BY ${query.order === 'desc' ? 's.iteration DESC, s.id DESC' : 's.iteration, s.id'}`;
  if (query.limit !== undefined) {
    sql += ' LIMIT ? OFFSET ?';
    args.push(query.limit, query.offset ?? 0);
  }
  return { sql, args };
}

/** The snapshot index, filtered (every given field must match), by iteration then id. */
export function listSnapshots(c: ReadContext, query: SnapshotQuery): SnapshotInfo[] {
  const { sql, args } = snapshotListing(query, c.runKey(query.run), '', (its) => [
    JSON.stringify(its),
    's.iteration IN (SELECT value FROM json_each(?))',
  ]);
  return c.q('listing snapshots', () => (c.stmt(sql).all(...args) as SnapshotRow[]).map(toInfo));
}

/** Snapshots stored after snapshot id `afterId` (any run), in id order: for live updates. */
export function snapshotsAfter(c: ReadContext, afterId: number, limit: number): SnapshotInfo[] {
  return c.q('listing new snapshots', () =>
    (
      c
        .stmt(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN runs r ON r.key = s.run_key
          WHERE s.id > ? ORDER BY s.id LIMIT ?`)
        .all(afterId, limit) as SnapshotRow[]
    ).map(toInfo),
  );
}

export function getSnapshot(c: ReadContext, id: number): SnapshotInfo | undefined {
  return c.q('reading a snapshot', () => {
    const row = c
      .stmt(`SELECT ${SNAPSHOT_COLUMNS} FROM snapshots s JOIN runs r ON r.key = s.run_key WHERE s.id = ?`)
      .get(id) as SnapshotRow | undefined;
    return row ? toInfo(row) : undefined;
  });
}

/** The full write-time summary of a snapshot, with per-part summaries for bidirectional layers. */
export function getSummary(c: ReadContext, id: number): SnapshotSummary | undefined {
  return c.q('reading a summary', () =>
    summaryOf(c.stmt('SELECT * FROM summaries WHERE snapshot_id = ? ORDER BY rowid').all(id) as SummaryRow[]),
  );
}

/** A snapshot's full summary from its summary rows in the order written (any backend's); undefined for none. */
export function summaryOf(rows: SummaryRow[]): SnapshotSummary | undefined {
  if (rows.length === 0) return undefined;
  const one = (r: SummaryRow): Omit<SnapshotSummary, 'parts'> => ({
    ...statsOfRow(r as unknown as Record<string, unknown>, 'summaries'),
    timestepNorms: r.timestep_norms ? f32(r.timestep_norms) : null,
    channelNorms: r.channel_norms ? f32(r.channel_norms) : null,
    histogram: { edges: HISTOGRAM_EDGES, counts: u32(r.histogram) },
  });
  const whole = rows.find((r) => r.channel_part === '')!;
  const out: SnapshotSummary = one(whole);
  const parts = rows.filter((r) => r.channel_part !== '');
  if (parts.length > 0) out.parts = Object.fromEntries(parts.map((r) => [r.channel_part, one(r)]));
  return out;
}
