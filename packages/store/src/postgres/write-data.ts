// The data a write group adds on PostgreSQL: payloads (uploaded before the group's lock), snapshots with
// their series position, summaries and series chunk entries (one statement each), scalars. Floats go as text PostgreSQL reads
// back exactly, NaN and ±Infinity included.
import type pg from 'pg';
import { SUMMARY_STATS, snapshotValues, statColumns, statValues } from '../columns.js';
import type { EncodedSnapshot, WriteOp } from '../operations.js';
import type { ScalarPoint, TensorSummary } from '../types.js';
import { APPEND_SQL, entrySql, LEVELS_SQL, SEQ_SQL } from './chunks.js';

/** `$from, $from+1, …`: n numbered parameters. */
const params = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ');

const SNAPSHOT_INSERT = `
  WITH k AS (
    INSERT INTO gradscope.series AS x (run_key, layer, kind, part, count) VALUES ($1, $5, $7, $8, 1)
    ON CONFLICT (run_key, layer, kind, part) DO UPDATE SET count = x.count + 1
    RETURNING key, count - 1 AS pos)
  , s AS (INSERT INTO gradscope.snapshots (run_key, series_key, pos, iteration, epoch, batch, layer, layer_class,
    kind, part, channel_parts, shape, dims, loss, time, non_finite, payload_bytes, ${statColumns('snapshots')},
    payload_key)
  SELECT $1, k.key, k.pos, ${params(15 + SUMMARY_STATS.length, 2)} FROM k
  RETURNING id, series_key, pos, iteration, loss, time)`;

const SUMMARY_VALUES = `channel_part, ord, timestep_norms, channel_norms, histogram, ${statColumns('summaries')}`;
/** The types of a summary row's values after its snapshot id (a VALUES list gives them no context). */
const SUMMARY_TYPES = [
  'text',
  'integer',
  'bytea',
  'bytea',
  'bytea',
  ...SUMMARY_STATS.map((m) => (m.sql.startsWith('REAL') ? 'double precision' : 'bigint')),
];

/** A typed array as a Buffer over the same bytes (pg sends Buffers as binary parameters). */
function bytes(a: ArrayBufferView | null): Buffer | null {
  return a === null ? null : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Uploads the group's payloads, before the transaction takes the state row's lock: another server's
 * transaction commits meanwhile. Their keys, in the order of the group's writes.
 */
export async function insertPayloads(c: pg.ClientBase, ops: WriteOp[]): Promise<number[]> {
  const keys: number[] = [];
  for (const op of ops) {
    if (op.type !== 'write') continue;
    const { rows } = await c.query({
      name: 'gs_payload',
      text: 'INSERT INTO gradscope.payloads (ipc) VALUES ($1::bytea) RETURNING key',
      values: [bytes(op.snapshot.ipc)],
    });
    keys.push(rows[0].key as number);
  }
  return keys;
}

/** Inserts one snapshot of run `runKey` (its payload uploaded as `payloadKey`): its id. */
export async function insertSnapshot(
  c: pg.ClientBase,
  encoded: EncodedSnapshot,
  runKey: number,
  payloadKey: number,
): Promise<number> {
  // Summarized by the writer thread before the group (see writer.worker.ts).
  const summaries = encoded.summaries as TensorSummary[];
  // One statement per snapshot: its series position, index row (its payload's key last) and summaries.
  const values: unknown[] = [runKey, ...snapshotValues(encoded, summaries[0]!, numberParam), payloadKey];
  const tuples: string[] = [];
  summaries.forEach((m, i) => {
    const from = values.length + 1;
    tuples.push(`(${SUMMARY_TYPES.map((t, k) => `$${from + k}::${t}`).join(', ')})`);
    values.push(
      m.channelPart,
      i,
      bytes(m.timestepNorms),
      bytes(m.channelNorms),
      bytes(m.histogram),
      ...statValues(m).map(numberParam),
    );
  });
  // And each summary's entry in the series chunks of the snapshot's levels (postgres/chunks.ts).
  const { rows } = await c.query({
    name: `gs_snapshot_${summaries.length}`,
    text: `${SNAPSHOT_INSERT},
      v (${SUMMARY_VALUES}) AS (VALUES ${tuples.join(', ')}),
      m AS (INSERT INTO gradscope.summaries (snapshot_id, ${SUMMARY_VALUES}) SELECT s.id, v.* FROM s, v),
      x AS (INSERT INTO gradscope.series_chunks AS c (series_key, channel_part, level, seq, n, entries, norms, hists)
        SELECT s.series_key, v.channel_part, l.level, ${SEQ_SQL('s.pos', 'l.level')}, 1, ${entrySql('s', 'v')},
          coalesce(v.timestep_norms, ''::bytea), v.histogram
        FROM s, v, ${LEVELS_SQL('s.pos')}
        ${APPEND_SQL})
      SELECT id FROM s`,
    values,
  });
  const id = rows[0].id as number;
  return id;
}

/** Inserts scalar points of run `runKey`. */
export async function insertScalars(c: pg.ClientBase, runKey: number, p: ScalarPoint[]): Promise<void> {
  await c.query(
    `INSERT INTO gradscope.scalars (run_key, iteration, name, value, time)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::float8[], $5::float8[])`,
    [
      runKey,
      p.map((x) => x.iteration),
      p.map((x) => x.name),
      // Arrays go as text: NaN and ±Infinity spelled as PostgreSQL reads them.
      p.map((x) => (x.value === null ? null : floatText(x.value))),
      p.map((x) => floatText(x.time)),
    ],
  );
}

/** A float8 parameter as text PostgreSQL reads back exactly (JS prints the shortest round-trip digits). */
function floatText(v: number): string {
  return Number.isNaN(v)
    ? 'NaN'
    : v === Number.POSITIVE_INFINITY
      ? 'Infinity'
      : v === Number.NEGATIVE_INFINITY
        ? '-Infinity'
        : String(v);
}

function numberParam(v: number | null): string | null {
  return v === null ? null : floatText(v);
}
