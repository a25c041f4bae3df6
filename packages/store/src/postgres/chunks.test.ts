// The series chunks on PostgreSQL (chunks.ts): what each write appends, against the snapshot and summary
// rows it came from; two writers appending to one series; the migration from schema 1 that builds them; and
// the binary COPY they are read through.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { LEVEL_STRIDE, MAX_LEVEL, SERIES_CHUNK_ROWS } from '../chunks.js';
import { openRunReader } from '../reader.js';
import { openStore } from '../store.js';
import { postgresBackend } from '../test-util/backends.js';
import { runInfo, snapshot } from '../test-util/fixtures.js';
import { CHUNK_FIELDS, levelFor } from './chunks.js';
import { shownUrl } from './connection.js';
import { parseBinaryCopy } from './copy.js';

const postgres = postgresBackend();
const K = CHUNK_FIELDS.length + 1;

async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  args: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, args)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Every chunk of a series at one level, entries decoded by hand (big-endian float8s), in seq order. */
async function chunksAt(url: string, series: number, part: string, level: number) {
  const rows = await query<{ seq: string; n: number; entries: Buffer; norms: Buffer }>(
    url,
    `SELECT seq, n, entries, norms FROM gradscope.series_chunks
     WHERE series_key = $1 AND channel_part = $2 AND level = $3 ORDER BY seq`,
    [series, part, level],
  );
  return rows.map((r) => {
    const v = new DataView(r.entries.buffer, r.entries.byteOffset, r.entries.byteLength);
    const entries = Array.from({ length: r.n }, (_, i) =>
      Object.fromEntries(
        [...CHUNK_FIELDS, 'norm_bytes'].map((f, k) => [f, v.getFloat64(8 * (i * K + k), false)]),
      ),
    );
    return { seq: Number(r.seq), n: r.n, entries, norms: r.norms };
  });
}

describe('series chunks on PostgreSQL', () => {
  it('hold, per level, every stride^L-th snapshot of a series in position order, with its summary', async () => {
    const url = await postgres.fresh();
    const store = openStore(url);
    await store.startRun(runInfo('r'));
    // 600 snapshots, iterations out of order, bidirectional channel parts: levels 0-3 hold some.
    const order = Array.from({ length: 600 }, (_, i) => (i * 7) % 600);
    for (const it of order)
      await store.write(
        snapshot({ run: 'r', iteration: it, shape: [2, 5, 4], channelParts: ['forward', 'backward'] }),
      );
    await store.close();
    const { key } = (await query<{ key: number }>(url, 'SELECT key FROM gradscope.series'))[0]!;
    for (const part of ['', 'forward', 'backward']) {
      for (let level = 0; level <= MAX_LEVEL; level++) {
        const stride = LEVEL_STRIDE ** level;
        const expected = await query<Record<string, number | Buffer | null>>(
          url,
          `SELECT s.id, s.iteration, s.loss, s.time, m.l2, m.max_abs, m.horizon, m.timestep_norms
           FROM gradscope.snapshots s JOIN gradscope.summaries m ON m.snapshot_id = s.id
           WHERE s.series_key = $1 AND m.channel_part = $2 AND s.pos % $3 = 0 ORDER BY s.pos`,
          [key, part, stride],
        );
        expect(expected.length).toBe(Math.ceil(600 / stride));
        const chunks = await chunksAt(url, key, part, level);
        expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
        expect(chunks.map((c) => c.n)).toEqual(
          chunks.map((_, i) => Math.min(SERIES_CHUNK_ROWS, expected.length - i * SERIES_CHUNK_ROWS)),
        );
        const entries = chunks.flatMap((c) => c.entries);
        const nan = (x: unknown) => (x === null ? Number.NaN : Number(x));
        expect(entries.map((e) => [e.id, e.iteration, e.loss, e.time, e.l2, e.max_abs, e.horizon])).toEqual(
          expected.map((r) => [r.id, r.iteration, r.loss, r.time, r.l2, r.max_abs, r.horizon].map(nan)),
        );
        expect(entries.every((e) => e.norm_bytes === 5 * 4)).toBe(true);
        expect(Buffer.concat(chunks.map((c) => c.norms))).toEqual(
          Buffer.concat(expected.map((r) => r.timestep_norms as Buffer)),
        );
      }
    }
  });

  it('stay in position order when two writers append to one series at once', async () => {
    const url = await postgres.fresh();
    const a = openStore(url);
    const b = openStore(url);
    await a.startRun(runInfo('shared'));
    await Promise.all(
      [a, b].map(async (store, w) => {
        for (let i = 0; i < 150; i++)
          store.write(snapshot({ run: 'shared', iteration: 2 * i + w, shape: [1, 3, 2] }));
        await store.flush();
      }),
    );
    await a.close();
    await b.close();
    const { key, count } = (
      await query<{ key: number; count: number }>(url, 'SELECT key, count FROM gradscope.series')
    )[0]!;
    expect(Number(count)).toBe(300);
    const byPos = await query<{ id: number }>(
      url,
      'SELECT id FROM gradscope.snapshots WHERE series_key = $1 ORDER BY pos',
      [key],
    );
    const ids = (await chunksAt(url, key, '', 0)).flatMap((c) => c.entries.map((e) => e.id));
    expect(ids).toEqual(byPos.map((r) => Number(r.id)));
    // Both writers' snapshots are among them, and the flow has every iteration in order.
    const reader = openRunReader(url);
    const flow = await reader.flowMatrix({ run: 'shared', layer: 'lstm_1', kind: 'output-grad' });
    expect(Array.from(flow.iterations)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await reader.close();
  });

  it('are built by the migration from schema 1; a reader refuses that schema until a writer migrates it', async () => {
    const url = await postgres.fresh();
    const store = openStore(url);
    await store.startRun(runInfo('m'));
    for (let it = 0; it < 300; it++)
      await store.write(
        snapshot({ run: 'm', iteration: it, channelParts: ['forward', 'backward'], shape: [2, 4, 6] }),
      );
    await store.close();
    const key = { run: 'm', layer: 'lstm_1', kind: 'output-grad' as const };
    const read = async () => {
      const r = openRunReader(url);
      try {
        return [
          await r.flowMatrix(key, { maxRows: 20 }),
          await r.histogramSeries(key),
          await r.seriesIndex(key),
        ];
      } finally {
        await r.close();
      }
    };
    const before = await read();
    // The store as schema 1 left it: no chunks, no index of commits by age, snapshots indexed by position.
    await query(
      url,
      `DROP TABLE gradscope.series_chunks; DROP INDEX gradscope.commits_at;
       CREATE INDEX snapshots_pos ON gradscope.snapshots (series_key, pos);
       UPDATE gradscope.meta SET value = '1' WHERE key = 'schema_version'`,
    );
    const shown = shownUrl(url);
    await expect(read()).rejects.toMatchObject({
      code: 'EOLDER',
      message: `${shown} has schema version 1, older than 2 (written by an older gradscope): migrate it once by opening it for writing: run \`gradscope vacuum ${shown}\` (or openStore('${shown}') in code), then open it again`,
    });
    const writer = openStore(url);
    await writer.flush();
    await writer.close();
    expect(await query(url, "SELECT value FROM gradscope.meta WHERE key = 'schema_version'")).toEqual([
      { value: '2' },
    ]);
    expect(
      await query(
        url,
        "SELECT to_regclass('gradscope.snapshots_pos') IS NULL AS dropped, to_regclass('gradscope.commits_at') IS NOT NULL AS made",
      ),
    ).toEqual([{ dropped: true, made: true }]);
    expect(await read()).toEqual(before);
  });
});

describe('reading chunks', () => {
  it('picks the sparsest level still holding maxRows snapshots', () => {
    expect(levelFor(2000, 500)).toBe(0);
    expect(levelFor(4000, 500)).toBe(1);
    expect(levelFor(50_000, 500)).toBe(2);
    expect(levelFor(50_000, undefined)).toBe(0);
    expect(levelFor(10, 1)).toBe(4);
  });

  it('parses binary COPY: fields, NULLs and the end; refuses what is not one', () => {
    const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
    const int16 = (v: number) => Buffer.from([(v >> 8) & 255, v & 255]);
    const int32 = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v);
      return b;
    };
    const stream = Buffer.concat([
      header,
      int16(2),
      int32(3),
      Buffer.from('abc'),
      int32(-1),
      int16(1),
      int32(0),
      int16(-1),
    ]);
    expect(parseBinaryCopy(stream)).toEqual([[Buffer.from('abc'), null], [Buffer.alloc(0)]]);
    expect(() => parseBinaryCopy(Buffer.from('id,name\n1,a\n'))).toThrow(/not a binary COPY stream/);
    expect(() => parseBinaryCopy(Buffer.concat([header, int16(1), int32(10), Buffer.from('ab')]))).toThrow(
      /cut short/,
    );
  });
});
