// The snapshot index, summaries and payloads on PostgreSQL, the rows converted by the SQLite reader's own
// functions (read/snapshots.ts, read/payloads.ts); and the integrity check.
import type { DecodedTensor, SnapshotInfo, SnapshotSummary } from '@gradscope/format';
import { checkedPayload, checkedTensor } from '../read/payloads.js';
import { SNAPSHOT_COLUMNS, snapshotListing, summaryOf, toInfo } from '../read/snapshots.js';
import type { SnapshotRow, SummaryRow } from '../schema.js';
import type { SnapshotQuery } from '../types.js';
import { copyRows, intField } from './copy.js';
import type { PgReadContext } from './read-context.js';

const FROM = 'FROM gradscope.snapshots s JOIN gradscope.runs r ON r.key = s.run_key';

/** The snapshot index, filtered (every given field must match), by iteration then id. */
export async function listSnapshots(c: PgReadContext, query: SnapshotQuery): Promise<SnapshotInfo[]> {
  const listing = snapshotListing(query, await c.runKey(query.run), 'gradscope.', (its) => [
    its,
    's.iteration = ANY(?::bigint[])',
  ]);
  let n = 0;
  const sql = listing.sql.replace(/\?/g, () => `$${++n}`);
  return c.q('listing snapshots', async (p) =>
    ((await p.query(sql, listing.args)).rows as SnapshotRow[]).map(toInfo),
  );
}

/** Snapshots stored after snapshot id `afterId` (any run), in id order: for live updates. */
export async function snapshotsAfter(
  c: PgReadContext,
  afterId: number,
  limit: number,
): Promise<SnapshotInfo[]> {
  return c.q('listing new snapshots', async (p) =>
    (
      (
        await p.query(`SELECT ${SNAPSHOT_COLUMNS} ${FROM} WHERE s.id > $1 ORDER BY s.id LIMIT $2`, [
          afterId,
          limit,
        ])
      ).rows as SnapshotRow[]
    ).map(toInfo),
  );
}

/** gradscope.state's version: every write transaction of every server raises it. */
export async function dataVersion(c: PgReadContext): Promise<number> {
  return c.q(
    'reading the data version',
    async (p) =>
      (await p.query({ name: 'gs_version', text: 'SELECT version FROM gradscope.state' })).rows[0]
        .version as number,
  );
}

export async function getSnapshot(c: PgReadContext, id: number): Promise<SnapshotInfo | undefined> {
  return c.q('reading a snapshot', async (p) => {
    const { rows } = await p.query({
      name: 'gs_snapshot',
      text: `SELECT ${SNAPSHOT_COLUMNS} ${FROM} WHERE s.id = $1`,
      values: [id],
    });
    return rows[0] ? toInfo(rows[0] as SnapshotRow) : undefined;
  });
}

export async function getSummary(c: PgReadContext, id: number): Promise<SnapshotSummary | undefined> {
  return c.q('reading a summary', async (p) =>
    summaryOf(
      (await p.query('SELECT * FROM gradscope.summaries WHERE snapshot_id = $1 ORDER BY ord', [id]))
        .rows as SummaryRow[],
    ),
  );
}

/** The stored Arrow IPC bytes of a snapshot, as-is. NotFoundError; ECORRUPT when missing or truncated. */
export async function getTensor(c: PgReadContext, id: number): Promise<Uint8Array> {
  // No snapshot has an id that is not a safe integer (and only a number goes into COPY's text).
  if (!Number.isSafeInteger(id)) return checkedPayload(c.path, id, undefined);
  const row = await c.q('reading a tensor', async (p) => {
    // The bytes as they are stored, through binary COPY (copy.ts): not as hex text.
    const [found] = await copyRows(
      p,
      `SELECT p.ipc, s.payload_bytes FROM gradscope.snapshots s
       LEFT JOIN gradscope.payloads p ON p.key = s.payload_key WHERE s.id = ${id}`,
    );
    return found && { ipc: found[0]!, payload_bytes: intField(found[1]) };
  });
  return checkedPayload(c.path, id, row);
}

/** getTensor decoded, checked against the recorded shape. */
export async function readTensor(c: PgReadContext, id: number): Promise<DecodedTensor> {
  const ipc = await getTensor(c, id);
  return checkedTensor(c.path, id, ipc, (await getSnapshot(c, id))!);
}

/** 'ok', or the snapshots whose payload or summary is missing or of the wrong length. */
export async function integrityCheck(c: PgReadContext): Promise<string> {
  return c.q('checking integrity', async (p) => {
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
