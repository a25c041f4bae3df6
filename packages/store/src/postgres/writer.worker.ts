// The writer thread of a store on PostgreSQL: the same protocol as the SQLite writer thread
// (writer.worker.ts: the training thread's Store posts operations and drains acknowledgements), so the Store
// class (its queue bounds, `durable`, error reporting, the summarizer thread) serves both backends. Here the
// summaries are computed on this thread and each group of waiting operations is committed in one
// transaction; while one commits, the next group gathers. A database that cannot be reached is retried for
// `unavailableMs` (a restart, a failover), and a group whose COMMIT was cut off is looked up by its token
// before it is sent again, so nothing is written twice; after that the group's operations fail with
// EUNAVAILABLE and the next group tries again.
import { randomUUID } from 'node:crypto';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { type SerializedError, StoreError, serializeError } from '../errors.js';
import { HEARTBEAT_MS } from '../liveness.js';
import {
  ackOf,
  type InMessage,
  isWriteOp,
  type OpResult,
  type OutMessage,
  opLabel,
  type Posted,
  type WriteOp,
} from '../operations.js';
import type { CompactPolicy } from '../provider.js';
import { Summaries, summarizePayload } from '../summarizer.js';
import { createPool, fromPg, isUnavailable, shownUrl } from './connection.js';
import { ensureSchema } from './schema.js';
import { PgWriter } from './writer.js';

/** Largest group committed in one transaction, by count and by payload bytes. */
const MAX_GROUP_OPS = 4096;
const MAX_GROUP_BYTES = 32 * 2 ** 20;

type Item = { seq: number } & (
  | { type: 'op'; op: WriteOp; bytes: number }
  | { type: 'failed'; error: SerializedError }
  | { type: 'flush' | 'close' | 'vacuum' }
  | { type: 'compact'; policy: CompactPolicy }
);

/**
 * A posted operation as a group item: a snapshot gets its summaries (the summarizer thread's when it was
 * handed the snapshot too and answers, else computed here), as the SQLite writer thread does.
 */
function itemOf({ seq, op }: Posted, summaries: Summaries | undefined): Item {
  if (!isWriteOp(op))
    return op.type === 'compact' ? { seq, type: 'compact', policy: op.policy } : { seq, type: op.type };
  if (op.type !== 'write') return { seq, type: 'op', op, bytes: 0 };
  const snapshot = op.snapshot;
  const r = (snapshot.summaries === 'summarizer' && summaries?.take(seq)) || undefined;
  if (r && 'error' in r) return { seq, type: 'failed', error: r.error };
  try {
    snapshot.summaries = r ? r.summaries : summarizePayload(snapshot);
  } catch (err) {
    return { seq, type: 'failed', error: serializeError(err) };
  }
  return { seq, type: 'op', op, bytes: snapshot.ipc.byteLength };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runWriter(url: string, unavailableMs: number, replies: MessagePort): Promise<void> {
  const where = shownUrl(url);
  const pool = createPool(url, { max: 2, applicationName: 'gradscope writer' });
  const writer = new PgWriter(pool, url);
  const queue: Item[] = [];
  let summaries: Summaries | undefined;
  let wake: (() => void) | undefined;
  // One operation a message, or several (the training thread's protocol: writer.worker.ts's InMessage).
  parentPort!.on('message', (msg: InMessage) => {
    if ('summarizer' in msg) summaries = new Summaries(msg.summarizer.port, msg.summarizer.control);
    else for (const posted of msg) queue.push(itemOf(posted, summaries));
    wake?.();
  });
  try {
    // A database still starting (or restarting) is waited for, as a commit would wait for it.
    for (const started = performance.now(); ; ) {
      try {
        await ensureSchema(pool, url);
        break;
      } catch (err) {
        // ensureSchema's errors come through fromPg: an unreachable database is EUNAVAILABLE.
        const unavailable = err instanceof StoreError && err.code === 'EUNAVAILABLE';
        if (!unavailable || performance.now() - started >= unavailableMs) throw err;
        await sleep(500);
      }
    }
  } catch (err) {
    replies.postMessage({ type: 'fatal', error: serializeError(err) } satisfies OutMessage);
    await pool.end().catch(() => {});
    parentPort!.close();
    return;
  }
  replies.postMessage({ type: 'ready', file: where } satisfies OutMessage);
  const beat = setInterval(() => void writer.heartbeat(), HEARTBEAT_MS);
  beat.unref();

  let outage: number | undefined;
  /** Commits a group, retrying while the database is unreachable (see the module comment). */
  const commit = async (ops: WriteOp[]): Promise<OpResult[]> => {
    const token = randomUUID();
    let tried = false;
    for (;;) {
      try {
        if (tried && (await writer.committed(token))) return ops.map(() => ({ ok: true }));
        tried = true;
        const res = await writer.commit(ops, token);
        if (outage !== undefined) {
          process.stderr.write(`gradscope store: ${where} is reachable again; writes go on\n`);
          outage = undefined;
        }
        return res;
      } catch (err) {
        const now = performance.now();
        if (outage === undefined && isUnavailable(err)) {
          outage = now;
          process.stderr.write(
            `gradscope store: ${fromPg(err, url, 'committing').message}; retrying for up to ${unavailableMs / 1000} s\n`,
          );
        }
        if (!isUnavailable(err)) {
          outage = undefined;
          // Refused, not unreachable: the group's transaction rolled back whole. One op fails with its own
          // error; a group is split, each op committed again as a group of its own (its own token, its own
          // retries), so that one bad op fails alone and none is written twice.
          if (ops.length === 1) return [{ ok: false, error: fromPg(err, url, opLabel(ops[0]!)) }];
          const out: OpResult[] = [];
          for (const op of ops) out.push(...(await commit([op])));
          return out;
        }
        if (now - (outage ?? now) >= unavailableMs) {
          const error = fromPg(err, url, `committing ${ops.length} operations`);
          const failed = new StoreError(
            'EUNAVAILABLE',
            `${error.message}; gave up after ${Math.round((now - (outage ?? now)) / 1000)} s (nothing of it was written)`,
            { file: where },
          );
          outage = now; // the next group tries again, for as long
          return ops.map(() => ({ ok: false, error: failed }));
        }
        await sleep(Math.min(1000, 50 * 2 ** Math.min(5, Math.floor((now - (outage ?? now)) / 200))));
      }
    }
  };

  const ack = (results: Extract<OutMessage, { type: 'acks' }>['results']) => {
    if (results.length > 0) replies.postMessage({ type: 'acks', results } satisfies OutMessage);
  };
  for (;;) {
    if (queue.length === 0) await new Promise<void>((r) => (wake = r));
    wake = undefined;
    // The group: operations up to the first control item (flush, close, vacuum, compact) or the size bounds.
    const ops: WriteOp[] = [];
    const seqs: number[] = [];
    const results: Extract<OutMessage, { type: 'acks' }>['results'] = [];
    let bytes = 0;
    while (queue.length > 0 && ops.length < MAX_GROUP_OPS && bytes < MAX_GROUP_BYTES) {
      const item = queue[0]!;
      if (item.type !== 'op' && item.type !== 'failed') break;
      queue.shift();
      if (item.type === 'failed') {
        results.push({ seq: item.seq, ok: false, error: item.error });
        continue;
      }
      ops.push(item.op);
      seqs.push(item.seq);
      bytes += item.bytes;
    }
    if (ops.length > 0) {
      const res = await commit(ops);
      res.forEach((r, i) => {
        results.push(ackOf(seqs[i]!, r));
      });
      writer.wrote(ops.filter((op, i) => op.type === 'write' && res[i]!.ok).length);
    }
    // Acknowledged in the order accepted: the failed items before the group were taken in that order too.
    results.sort((a, b) => a.seq - b.seq);
    ack(results);
    const next = queue[0];
    if (!next || next.type === 'op' || next.type === 'failed') continue;
    queue.shift();
    switch (next.type) {
      case 'flush':
        ack([{ seq: next.seq, ok: true }]);
        break;
      case 'vacuum':
      case 'compact':
        try {
          const value = next.type === 'compact' ? await writer.compact(next.policy) : await writer.vacuum();
          ack([{ seq: next.seq, ok: true, ...(value === undefined ? {} : { value }) }]);
        } catch (err) {
          ack([{ seq: next.seq, ok: false, error: serializeError(fromPg(err, url, next.type)) }]);
        }
        break;
      case 'close': {
        clearInterval(beat);
        await writer.analyzing;
        let error: StoreError | undefined;
        try {
          await writer.finishImplicit();
        } catch (err) {
          error = fromPg(err, url, 'finishing runs');
        }
        await pool.end().catch(() => {});
        // Anything sent after the close is refused, as the SQLite writer does.
        const closed = serializeError(
          new StoreError('ECLOSED', `${where}: the store is closed`, { file: where }),
        );
        ack([
          error ? { seq: next.seq, ok: false, error: serializeError(error) } : { seq: next.seq, ok: true },
          ...queue.splice(0).map((i) => ({ seq: i.seq, ok: false, error: closed })),
        ]);
        parentPort!.close();
        return;
      }
    }
  }
}

const data = workerData as { url: string; unavailableMs?: number; replies: MessagePort };
void runWriter(data.url, data.unavailableMs ?? 10_000, data.replies);
