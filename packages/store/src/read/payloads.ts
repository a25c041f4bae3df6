// Tensor payloads: the stored Arrow IPC bytes of a snapshot, checked against the length written, and decoded.
import type { DecodedTensor, SnapshotInfo } from '@gradscope/format';
import Database, { type Statement } from 'better-sqlite3';
import { fromSqlite, NotFoundError, StoreError } from '../errors.js';
import type { Db } from '../sqlite.js';
import { decodeTensor } from '../tensor.js';
import type { ReadContext } from './context.js';
import { getSnapshot } from './snapshots.js';

/** The payloads of one reader, read through a connection of their own (opened on first use). */
export class Payloads {
  private db: Db | undefined;
  private stmt: Statement | undefined;

  constructor(private readonly c: ReadContext) {}

  /**
   * The stored Arrow IPC stream of a snapshot, as-is (to send to the viewer). Throws NotFoundError for an
   * unknown id and ECORRUPT when the stored bytes are not as long as when they were written.
   */
  getTensor(id: number): Uint8Array {
    const { c } = this;
    c.checkOpen();
    if (!this.stmt) {
      // Without memory mapping: a multi-megabyte BLOB read once costs a page fault per 4 KiB when mapped,
      // and pread() copies it faster.
      this.db = new Database(c.path, { readonly: true, fileMustExist: true, timeout: c.busyTimeoutMs });
      this.db.pragma('cache_size = -2048');
      this.stmt = this.db.prepare(
        'SELECT p.ipc, s.payload_bytes FROM snapshots s LEFT JOIN payloads p ON p.snapshot_id = s.id WHERE s.id = ?',
      );
    }
    const stmt = this.stmt;
    const row = c.q(
      'reading a tensor',
      () => stmt.get(id) as { ipc: Buffer | null; payload_bytes: number } | undefined,
    );
    return checkedPayload(c.path, id, row);
  }

  /** getTensor decoded: {shape, dims, data: Float32Array}. Throws ECORRUPT naming the file and id when damaged. */
  readTensor(id: number): DecodedTensor {
    return checkedTensor(this.c.path, id, this.getTensor(id), getSnapshot(this.c, id)!);
  }

  close(): void {
    try {
      this.db?.close();
    } catch (err) {
      throw fromSqlite(err, this.c.path, 'closing the database');
    }
  }
}

/**
 * A payload row as read by either backend (undefined: no such snapshot): its bytes, or NotFoundError, or
 * ECORRUPT when they are missing or not as long as when they were written.
 */
export function checkedPayload(
  path: string,
  id: number,
  row: { ipc: Buffer | null; payload_bytes: number } | undefined,
): Uint8Array {
  if (!row) throw NotFoundError.snapshot(id, path);
  const damaged = (why: string) =>
    new StoreError('ECORRUPT', `${path} snapshot ${id}: damaged tensor payload: ${why}`, { file: path });
  if (!row.ipc) throw damaged('the payload is missing');
  if (!(row.ipc instanceof Uint8Array)) throw damaged(`stored as ${typeof row.ipc}, not a BLOB`);
  if (row.ipc.byteLength !== Number(row.payload_bytes)) {
    throw damaged(`${row.ipc.byteLength} bytes stored, ${row.payload_bytes} written (truncated)`);
  }
  return row.ipc;
}

/** A payload decoded and checked against its index row's shape (ECORRUPT naming the file and id). */
export function checkedTensor(path: string, id: number, ipc: Uint8Array, info: SnapshotInfo): DecodedTensor {
  const decoded = decodeTensor(ipc, `${path} snapshot ${id}`, path);
  if (decoded.shape.join(',') !== info.shape.join(',')) {
    throw new StoreError(
      'ECORRUPT',
      `${path} snapshot ${id}: damaged tensor payload: shape [${decoded.shape}] differs from the recorded [${info.shape}]`,
      { file: path },
    );
  }
  return decoded;
}
