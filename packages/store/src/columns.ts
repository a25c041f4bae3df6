// The statistics of a summary and their SQL columns, declared once: the schema, the writer's inserts, the
// reader's rows and the series chunks are built from these lists. A new statistic is one line here (and a
// migration adding its columns) plus its computation in summary.ts.
import type { ScalarSummary } from '@gradscope/format';
import type { EncodedSnapshot } from './operations.js';

/** A whole-tensor statistic: its field of ScalarSummary, its column in `summaries` and `snapshots`, its type. */
interface SummaryStat {
  field: keyof ScalarSummary;
  /** The column in `summaries` (one row per snapshot and channel part). */
  column: string;
  /** The column in `snapshots` (the whole tensor's), when it differs from `column`. */
  snapshotColumn?: string;
  sql: string;
}

/** The scalar statistics of a summary, in the order of their columns. */
export const SUMMARY_STATS = [
  { field: 'l2', column: 'l2', sql: 'REAL' },
  { field: 'maxAbs', column: 'max_abs', sql: 'REAL' },
  { field: 'min', column: 'min', sql: 'REAL' },
  { field: 'max', column: 'max', sql: 'REAL' },
  { field: 'mean', column: 'mean', sql: 'REAL' },
  { field: 'std', column: 'std', sql: 'REAL' },
  // `snapshots.non_finite` is the capture's own count (Snapshot.nonFinite); the summary's is beside it.
  { field: 'nonFinite', column: 'non_finite', snapshotColumn: 's_non_finite', sql: 'INTEGER NOT NULL' },
  { field: 'count', column: 'count', sql: 'INTEGER NOT NULL' },
  { field: 'horizon', column: 'horizon', sql: 'INTEGER' },
  { field: 't0Ratio', column: 't0_ratio', sql: 'REAL' },
] as const satisfies readonly SummaryStat[];

type Stat = (typeof SUMMARY_STATS)[number];
/** The stat columns of a `summaries` row (REAL columns read back null for NaN). */
export type SummaryStatColumns = { [S in Stat as S['column']]: number | null };
/** The stat columns of a `snapshots` row. */
export type SnapshotStatColumns = {
  [S in Stat as S extends { snapshotColumn: string } ? S['snapshotColumn'] : S['column']]: number | null;
};

const snapshotColumn = (s: SummaryStat) => s.snapshotColumn ?? s.column;

/** `l2 REAL, max_abs REAL, …` of a CREATE TABLE: of `summaries`, or of `snapshots`. */
export function statColumnsSql(table: 'summaries' | 'snapshots'): string {
  return SUMMARY_STATS.map(
    (s: SummaryStat) => `${table === 'snapshots' ? snapshotColumn(s) : s.column} ${s.sql}`,
  ).join(',\n      ');
}

/** `l2, max_abs, …`: the stat columns of `summaries` or `snapshots`, each prefixed by `alias.` when given. */
export function statColumns(table: 'summaries' | 'snapshots', alias = ''): string {
  const dot = alias === '' ? '' : `${alias}.`;
  return SUMMARY_STATS.map(
    (s: SummaryStat) => dot + (table === 'snapshots' ? snapshotColumn(s) : s.column),
  ).join(', ');
}

/** A summary's statistics in the order of statColumns(), for an INSERT. */
export function statValues(summary: ScalarSummary): (number | null)[] {
  return SUMMARY_STATS.map((s) => summary[s.field]);
}

/**
 * A snapshot's index row after its run key, in the order both writers insert it (snapshots' columns from
 * iteration to payload_bytes, then statColumns()), `float` applied to its loss, time and statistics.
 */
export function snapshotValues(
  s: Pick<EncodedSnapshot, 'meta' | 'shape' | 'dims' | 'ipc'>,
  whole: ScalarSummary,
  float: (v: number | null) => unknown = (v) => v,
): unknown[] {
  const { meta } = s;
  return [
    meta.iteration,
    meta.epoch,
    meta.batch,
    meta.layer,
    meta.layerClass,
    meta.kind,
    meta.part ?? '',
    meta.channelParts ? JSON.stringify(meta.channelParts) : null,
    JSON.stringify(s.shape),
    JSON.stringify(s.dims),
    float(meta.loss),
    float(meta.time),
    meta.nonFinite,
    s.ipc.byteLength,
    ...statValues(whole).map(float),
  ];
}

/** The statistics of a `summaries` or `snapshots` row as a ScalarSummary (NaN where SQLite stored NULL). */
export function statsOfRow(row: Record<string, unknown>, table: 'summaries' | 'snapshots'): ScalarSummary {
  const out: Record<string, number | null> = {};
  for (const s of SUMMARY_STATS as readonly SummaryStat[]) {
    const v = row[table === 'snapshots' ? snapshotColumn(s) : s.column] as number | null;
    // horizon and t0Ratio are null where unknown; the others were NaN when stored as NULL.
    out[s.field] = v === null && s.field !== 'horizon' && s.field !== 't0Ratio' ? Number.NaN : v;
  }
  return out as unknown as ScalarSummary;
}

/** `?, ?, …`: n positional parameters. */
export const params = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/**
 * The per-row statistics of a series chunk (`series_chunks.stats`, float64 each, NaN for null), in their
 * stored order: a file's bytes depend on it, so a new one goes at the end (with a migration).
 */
export const CHUNK_STATS = [
  'loss',
  'l2',
  'maxAbs',
  'mean',
  'std',
  'nonFinite',
  'horizon',
  't0Ratio',
  'time',
] as const;
export type ChunkStat = (typeof CHUNK_STATS)[number];
