// A write transaction on PostgreSQL: it raises gradscope.state's version, whose row lock orders the write
// transactions of every server on the database (so snapshot ids become visible in id order, what
// RunReader.snapshotsAfter relies on), records its token and NOTIFYs every reader when it commits.
import type pg from 'pg';
import { isUnavailable } from './connection.js';

/** The channel every write transaction notifies, with the new data version as payload. */
export const CHANNEL = 'gradscope_changes';

/**
 * Runs `fn` in a transaction marked by `token`, after `before` (work that needs no lock: the payloads'
 * upload). The state row is locked from its version raise to the COMMIT.
 */
export async function transaction<T>(
  pool: pg.Pool,
  token: string,
  fn: (c: pg.PoolClient) => Promise<T>,
  before?: (c: pg.PoolClient) => Promise<void>,
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await before?.(client);
    const { rows } = await client.query({
      name: 'gs_version',
      text: 'UPDATE gradscope.state SET version = version + 1 RETURNING version',
    });
    const version = String(rows[0].version);
    const value = await fn(client);
    await client.query({
      name: 'gs_commit',
      text: 'WITH c AS (INSERT INTO gradscope.commits (token, at) VALUES ($1, $2)) SELECT pg_notify($3, $4)',
      values: [token, Date.now(), CHANNEL, version],
    });
    await client.query('COMMIT');
    return value;
  } catch (err) {
    broken = isUnavailable(err);
    if (!broken) await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(broken);
  }
}
