// Reading bytea as bytes: `COPY (query) TO STDOUT (FORMAT binary)` through pg-copy-streams. pg returns a
// bytea column as hex text (it decodes every field of a result as UTF-8, so its binary mode would mangle
// the bytes), which doubles what crosses the socket and costs a hex decode: an 8 MB tensor read took 5.8×
// as long as hex text as through COPY, measured (the store README). COPY takes no parameters: the callers
// put only numbers they read from the database into its text.
import type pg from 'pg';
import { copyTo } from './modules.js';

/** One row of a binary COPY: its fields' bytes, null for NULL. */
export type CopyRow = (Buffer | null)[];

/** The bytes `COPY (select) TO STDOUT (FORMAT binary)` sends, parsed into rows. */
export async function copyRows(pool: pg.Pool, select: string): Promise<CopyRow[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`));
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return parseBinaryCopy(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    // A connection whose COPY failed midway is not handed to the next query.
    client.release(broken);
  }
}

/** PostgreSQL's binary COPY signature, 'PGCOPY\n\377\r\n\0'. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * The rows of PostgreSQL's binary COPY format: the signature, flags and a header extension, then per row
 * a field count and each field as a length (-1 for NULL) and its bytes, then -1. Fields are subarrays of
 * `b`, not copies.
 */
export function parseBinaryCopy(b: Buffer): CopyRow[] {
  if (b.length < 21 || !b.subarray(0, 11).equals(SIGNATURE))
    throw new Error('not a binary COPY stream (its signature is missing)');
  let at = 15 + 4 + b.readUInt32BE(15);
  const rows: CopyRow[] = [];
  for (;;) {
    const fields = b.readInt16BE(at);
    at += 2;
    if (fields === -1) return rows;
    const row: CopyRow = new Array(fields);
    for (let i = 0; i < fields; i++) {
      const len = b.readInt32BE(at);
      at += 4;
      if (len === -1) {
        row[i] = null;
        continue;
      }
      if (at + len > b.length) throw new Error('a binary COPY stream cut short');
      row[i] = b.subarray(at, at + len);
      at += len;
    }
    rows.push(row);
  }
}

/** A binary int2, int4 or int8 field as a number (ids and counts stay below 2^53). */
export function intField(f: Buffer | null | undefined): number {
  if (!f) throw new Error('a NULL where a number was expected');
  if (f.length === 2) return f.readInt16BE(0);
  if (f.length === 4) return f.readInt32BE(0);
  return Number(f.readBigInt64BE(0));
}
