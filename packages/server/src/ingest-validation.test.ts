// Ingest checks every field of a snapshot against its tensor and its documented range before anything is
// stored (issue 23): a refused body is a 400 naming the field, and the run holds nothing of it.
import { request as httpRequest } from 'node:http';
import { encodeSnapshot, encodeTensor, type SnapshotMeta, snapshotMeta } from '@gradscope/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer } from './index.js';
import { type Fixture, RUN, request, snapshot, storeWith } from './test-util/fixture.js';

const ARROW = { 'content-type': 'application/vnd.apache.arrow.stream' };
const JSON_TYPE = { 'content-type': 'application/json' };
let fx: Fixture;
let server: RunningServer;

beforeAll(async () => {
  fx = await storeWith([20]);
  server = await buildServer({ db: fx.db, port: 0 });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
});

const ingest = (body: Uint8Array) =>
  request(`${server.url}/api/ingest`, { method: 'POST', headers: ARROW, body });

/** A body of `snapshot(iteration)` with its metadata fields overridden (and, optionally, another tensor). */
function body(
  iteration: number,
  override: Record<string, unknown>,
  tensor?: { shape: number[]; dims: string[]; data?: Float32Array },
): Uint8Array {
  const s = snapshot(iteration);
  const meta = { ...snapshotMeta(s), ...override } as unknown as SnapshotMeta;
  const shape = tensor?.shape ?? s.shape;
  const data = tensor?.data ?? (tensor ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : s.data);
  return encodeTensor(data, shape, tensor?.dims ?? s.dims, meta);
}

const stored = async () => (await server.reader.listSnapshots({ run: RUN.id })).map((s) => s.iteration);

describe('POST /api/ingest validates every field before storing', () => {
  it('a 0-d snapshot with channelParts is 400 (it used to be stored and break the run export)', async () => {
    const res = await ingest(body(30, { channelParts: ['a', 'b'] }, { shape: [], dims: [] }));
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      "request body: 'channelParts' split the last axis, but shape [] has no axis (a 0-d tensor)",
    );
    // 1-d: the one axis is the last; it must split evenly.
    const odd = await ingest(body(31, { channelParts: ['a', 'b'] }, { shape: [3], dims: ['channel'] }));
    expect(odd.status).toBe(400);
    expect(odd.body.message).toContain('must split the last axis evenly, but shape [3] ends in 3');
    expect(await stored()).toEqual([20]);
    // The well-formed 0-d and 1-d snapshots are stored.
    expect((await ingest(body(32, {}, { shape: [], dims: [], data: Float32Array.of(5) }))).status).toBe(201);
    const even = body(33, { channelParts: ['a', 'b'] }, { shape: [4], dims: ['channel'] });
    expect((await ingest(even)).status).toBe(201);
    expect(await stored()).toEqual([20, 32, 33]);
  });

  it('nonFinite is counted by the server: a body that disagrees is 400', async () => {
    const clean = await ingest(body(40, { nonFinite: 1e12 }));
    expect(clean.status).toBe(400);
    expect(clean.body.message).toBe(
      "request body: 'nonFinite' must be the number of NaN and ±Infinity values in the tensor, 0, got 1000000000000",
    );
    const data = snapshot(41).data.slice();
    for (let i = 0; i < 8; i++) data[i] = Number.NaN;
    const s = snapshot(41);
    const hidden = await ingest(body(41, { nonFinite: 0 }, { shape: s.shape, dims: s.dims, data }));
    expect(hidden.status).toBe(400);
    expect(hidden.body.message).toContain('tensor, 8, got 0');
    expect(await stored()).not.toContain(40);
    expect(await stored()).not.toContain(41);
    const told = await ingest(body(42, { nonFinite: 8 }, { shape: s.shape, dims: s.dims, data }));
    expect(told.status).toBe(201);
    const [row] = await server.reader.listSnapshots({ run: RUN.id, iterations: [42] });
    expect(row!.nonFinite).toBe(8);
    expect(row!.summary.nonFinite).toBe(8);
  });

  it('iteration, epoch, batch and time outside their documented ranges are 400', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ iteration: 1e300 }, "'iteration' must be an integer from 0 to 2147483647, got 1e+300"],
      [
        { iteration: 2 ** 53 + 2 },
        "'iteration' must be an integer from 0 to 2147483647, got 9007199254740994",
      ],
      [{ epoch: 2 ** 31 }, "'epoch' must be an integer from 0 to 2147483647"],
      [{ batch: -1 }, "'batch' must be an integer from 0 to 2147483647"],
      [{ time: -5 }, "'time' must be ms since the epoch, from 0 to 8640000000000000, got -5"],
      [{ time: 1e300 }, "'time' must be ms since the epoch"],
      [{ bogus: true }, 'unknown snapshot field "bogus"'],
    ];
    for (const [override, message] of cases) {
      const res = await ingest(body(50, override));
      expect(res.status, JSON.stringify(override)).toBe(400);
      expect(res.body.message).toContain(message);
    }
    expect(await stored()).not.toContain(50);
    expect((await server.reader.getRun(RUN.id))!.lastIteration).toBeLessThan(2 ** 31);
    // The largest documented iteration is stored as sent.
    expect((await ingest(body(2 ** 31 - 1, {}))).status).toBe(201);
    expect((await server.reader.getRun(RUN.id))!.lastIteration).toBe(2 ** 31 - 1);
  });

  it('scalars and runs: iterations and times outside their ranges are 400', async () => {
    const point = { iteration: 1, name: 'loss', value: 0.5, time: 1_700_000_000_000 };
    for (const bad of [{ iteration: 2 ** 31 }, { iteration: 1e300 }, { time: -1 }, { time: 1e300 }]) {
      const res = await request(`${server.url}/api/runs/${RUN.id}/scalars`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ points: [{ ...point, ...bad }] }),
      });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect(await server.reader.scalars(RUN.id)).toEqual([]);
    const run = await request(`${server.url}/api/ingest/runs`, {
      method: 'POST',
      headers: JSON_TYPE,
      body: JSON.stringify({ ...RUN, id: 'late', startedAt: 1e300 }),
    });
    expect(run.status).toBe(400);
    expect(run.body.message).toContain('startedAt');
    expect(await server.reader.getRun('late')).toBeUndefined();
  });

  it('a body made by encodeSnapshot is still stored as sent', async () => {
    const res = await ingest(encodeSnapshot(snapshot(60, RUN.id, { part: 'forward' })));
    expect(res.status).toBe(201);
    const [row] = await server.reader.listSnapshots({ run: RUN.id, iterations: [60] });
    expect(row).toMatchObject({ part: 'forward', iteration: 60, nonFinite: 0, shape: [2, 5, 3] });
  });

  it('a body sent without Content-Length is read up to the limit: beyond it 413, within it stored', async () => {
    const small = await buildServer({ db: fx.db, port: 0, ingestLimit: 4096 });
    try {
      const chunked = (bytes: Uint8Array) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = httpRequest(`${small.url}/api/ingest`, { method: 'POST', headers: ARROW }, (res) => {
            let text = '';
            res.on('data', (c: Buffer) => {
              text += c.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode!, text }));
          });
          req.on('error', reject);
          // Several writes without a length: chunked transfer encoding.
          for (let at = 0; at < bytes.length; at += 700) req.write(bytes.subarray(at, at + 700));
          req.end();
        });
      const big = await chunked(body(70, {}, { shape: [2000], dims: ['channel'] }));
      expect(big.status).toBe(413);
      expect(JSON.parse(big.text).message).toBe(
        "the body is larger than this route's limit of 4096 bytes (ingestLimit)",
      );
      const fits = await chunked(body(71, {}));
      expect(fits.status).toBe(201);
      expect(await stored()).toContain(71);
      expect(await stored()).not.toContain(70);
    } finally {
      await small.close();
    }
  });
});
