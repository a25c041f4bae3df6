// A seeded fuzz of every GET route's parameters and of POST /api/ingest (+ /api/ingest/runs), bounded in
// count and time, against a real server on loopback: no 5xx, no stack trace or server path in any answer,
// and nothing malformed stored.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planExport, writeExport } from '@gradscope/export';
import {
  encodeSnapshot,
  encodeTensor,
  isKind,
  KINDS,
  MAX_SNAPSHOT_INDEX,
  product,
  type SnapshotMeta,
} from '@gradscope/format';
import {
  Field,
  FixedSizeList,
  Float32,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  tableFromIPC,
} from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer } from './index.js';
import { type Fixture, RUN, rawRequest, snapshot, storeWith } from './test-util/fixture.js';

const SEED = 0x9e3779b9;
const GET_REQUESTS = 600;
const INGEST_REQUESTS = 200;
const FIELD_BODIES = 400;
const TIME_BUDGET_MS = 20_000;

/** mulberry32: a small seeded PRNG, so a failure replays. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}

const NASTY = [
  '',
  '0',
  '1',
  '-1',
  '20',
  '2',
  '1.5',
  '1e309',
  '-1e309',
  'NaN',
  'Infinity',
  '99999999999999999999',
  '9007199254740993',
  '0x10',
  'true',
  'null',
  '[]',
  '{}',
  'run-1',
  'ex1-lstm3',
  'lstm_1',
  'output-grad',
  'weight',
  'input-grad',
  'forward',
  'arrow',
  'parquet',
  'tensor',
  'long',
  '20,200',
  '1,x',
  "' OR 1=1 --",
  '"; DROP TABLE runs; --',
  '../../etc/passwd',
  '%00',
  '%E0%A4%A',
  '%',
  '%%',
  '%2F',
  '\u00e9\u4e2d\ud83d\ude00',
  'a'.repeat(513),
  'b'.repeat(5000),
  '<script>alert(1)</script>',
  '$' + '{jndi:ldap://x}',
  '__proto__',
  'constructor',
];

const KEYS = [
  'layer',
  'kind',
  'part',
  'from',
  'to',
  'limit',
  'offset',
  'max',
  'format',
  'layout',
  'iterations',
  'run',
  'token',
  'maxPoints',
  'x',
  '__proto__',
];

/** A value as it goes into a URL: mostly percent-encoded, sometimes raw (only characters http.request accepts). */
function encodeValue(r: ReturnType<typeof rng>, v: string): string {
  if (r.next() < 0.3 && /^[\x21-\x7e]*$/.test(v) && !/[#?]/.test(v)) return v;
  return encodeURIComponent(v);
}

const ROUTES = [
  '/api/runs',
  '/api/runs/:run',
  '/api/runs/:run/layers',
  '/api/runs/:run/snapshots',
  '/api/runs/:run/flow',
  '/api/runs/:run/histograms',
  '/api/runs/:run/export',
  '/api/runs/:run/series',
  '/api/runs/:run/scalars',
  '/api/snapshots/:id',
  '/api/snapshots/:id/tensor',
  '/api/snapshots/:id/summary',
  '/api/events',
  '/api/health',
  '/',
];

function fuzzPath(r: ReturnType<typeof rng>): string {
  let path = r.pick(ROUTES);
  path = path.replace(':run', () => encodeValue(r, r.pick(NASTY)));
  path = path.replace(':id', () => encodeValue(r, r.pick(NASTY)));
  const n = r.int(5);
  const query: string[] = [];
  for (let i = 0; i < n; i++) query.push(`${r.pick(KEYS)}=${encodeValue(r, r.pick(NASTY))}`);
  return query.length ? `${path}?${query.join('&')}` : path;
}

let fx: Fixture;
let server: RunningServer;

beforeAll(async () => {
  fx = await storeWith([20, 200], 'gradscope-fuzz-');
  server = await buildServer({ db: fx.db, port: 0 });
});

afterAll(async () => {
  await server?.close();
  await fx?.cleanup();
});

/** What no answer may contain: a stack frame, the store's directory, module paths. */
function expectClean(where: string, status: number, text: string) {
  expect(status, `${where} → ${status}: ${text.slice(0, 300)}`).toBeLessThan(500);
  expect(text, where).not.toMatch(/\n\s+at |node_modules|\/work\/|\.ts:\d+/);
  expect(text, where).not.toContain(fx.dir);
}

describe('fuzz', () => {
  it(`${GET_REQUESTS} GETs with random parameters: no 5xx, no stack, no path`, async () => {
    const r = rng(SEED);
    const deadline = Date.now() + TIME_BUDGET_MS;
    const statuses = new Map<number, number>();
    let sent = 0;
    for (; sent < GET_REQUESTS && Date.now() < deadline; sent++) {
      const path = fuzzPath(r);
      if (path.startsWith('/api/events')) {
        // A valid subscription streams forever: look at the status and headers, then hang up.
        const controller = new AbortController();
        const res = await fetch(server.url + path, { signal: controller.signal }).catch(() => undefined);
        if (res) {
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, path).toBeLessThan(500);
          if (!res.headers.get('content-type')?.includes('event-stream'))
            expectClean(path, res.status, await res.text());
        }
        controller.abort();
        continue;
      }
      const res = await rawRequest(server.url + path);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expectClean(
        `GET ${path}`,
        res.status,
        res.headers['content-type']?.toString().includes('json') ? res.text : '',
      );
      if (res.status >= 400) expect(JSON.parse(res.text), path).toHaveProperty('message');
    }
    expect(sent).toBeGreaterThan(100);
    // The fuzz reached both answers and refusals.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
  }, 60_000);

  it(`${INGEST_REQUESTS} malformed ingest bodies: only 2xx/4xx, and every stored snapshot well-formed`, async () => {
    const r = rng(SEED + 1);
    const deadline = Date.now() + TIME_BUDGET_MS;
    const valid = encodeSnapshot(snapshot(1000, 'fuzz-run'));
    const nasty: unknown[] = [
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53 + 2,
      '',
      'x',
      null,
      [],
      {},
      true,
      'a'.repeat(600),
    ];
    const fields = [
      'run',
      'iteration',
      'epoch',
      'batch',
      'layer',
      'layerClass',
      'kind',
      'part',
      'channelParts',
      'loss',
      'time',
      'nonFinite',
    ];
    await rawRequest(`${server.url}/api/ingest/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...RUN, id: 'fuzz-run', name: 'fuzz' }),
    });
    let accepted = 0;
    let sent = 0;
    for (; sent < INGEST_REQUESTS && Date.now() < deadline; sent++) {
      let body: Uint8Array;
      const mode = r.int(5);
      if (mode === 0) {
        body = valid.slice();
        for (let k = 0; k < 1 + r.int(8); k++) body[r.int(body.length)] = r.int(256);
      } else if (mode === 1) {
        body = valid.slice(0, r.int(valid.length));
      } else if (mode === 2) {
        body = Uint8Array.from({ length: r.int(2000) }, () => r.int(256));
      } else {
        // A well-formed Arrow stream whose snapshot fields are wrong in one or two places.
        const s = snapshot(2000 + sent, 'fuzz-run');
        const meta: Record<string, unknown> = { ...s };
        for (const k of ['data', 'shape', 'dims']) delete meta[k];
        for (let k = 0; k < 1 + r.int(2); k++) meta[r.pick(fields)] = r.pick(nasty);
        const shape = mode === 4 ? [N2(r), 5, 3] : s.shape;
        const data = mode === 4 ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : s.data;
        body = encodeTensor(data, shape, s.dims, meta as unknown as SnapshotMeta);
      }
      const res = await rawRequest(`${server.url}/api/ingest`, {
        method: 'POST',
        headers: { 'content-type': r.next() < 0.9 ? 'application/vnd.apache.arrow.stream' : 'text/plain' },
        body,
      });
      expectClean('POST /api/ingest', res.status, res.text);
      expect([201, 400, 413, 415], res.text).toContain(res.status);
      if (res.status === 201) accepted++;
      // Random JSON at the run routes too.
      if (sent % 5 === 0) {
        const run: Record<string, unknown> = { ...RUN, id: `fuzz-run-${sent}` };
        run[r.pick(Object.keys(RUN))] = r.pick(nasty);
        const started = await rawRequest(`${server.url}/api/ingest/runs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: r.next() < 0.2 ? '{"id":' : JSON.stringify(run),
        });
        expectClean('POST /api/ingest/runs', started.status, started.text);
        const ended = await rawRequest(
          `${server.url}/api/ingest/runs/${encodeURIComponent(String(r.pick(NASTY)))}/end`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ status: r.pick(['finished', 'failed', 'interrupted', 'nope', 1]) }),
          },
        );
        expectClean('POST /api/ingest/runs/:run/end', ended.status, ended.text);
      }
    }
    expect(sent).toBeGreaterThan(50);
    expect(accepted).toBeGreaterThan(0);

    expect(await server.reader.integrityCheck()).toBe('ok');
    for (const run of await server.reader.listRuns()) {
      expect(run.name.length).toBeLessThanOrEqual(512);
      for (const s of await server.reader.listSnapshots({ run: run.id })) {
        expect(Number.isSafeInteger(s.iteration) && s.iteration >= 0, JSON.stringify(s)).toBe(true);
        expect(isKind(s.kind), s.kind).toBe(true);
        expect(s.layer.length).toBeGreaterThan(0);
        expect(s.layer.length).toBeLessThanOrEqual(512);
        const tensor = await server.reader.readTensor(s.id);
        expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
        expect(tensor.shape).toEqual(s.shape);
      }
    }
  }, 60_000);
});

/** An ingest body built field by field: the tensor's extension metadata and the snapshot JSON as given. */
function arrowBody(data: Float32Array, size: number, extension: unknown, snapshotJson: string): Uint8Array {
  const type = new FixedSizeList(size, new Field('item', new Float32(), true));
  const field = new Field(
    'tensor',
    type,
    false,
    new Map([
      ['ARROW:extension:name', 'arrow.fixed_shape_tensor'],
      ['ARROW:extension:metadata', JSON.stringify(extension)],
    ]),
  );
  const schema = new Schema([field], new Map([['gradscope:snapshot', snapshotJson]]));
  const child = makeData({ type: type.children[0]!.type, length: data.length, nullCount: 0, data });
  const column = makeData({ type, length: 1, nullCount: 0, child });
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children: [column] }),
  );
  return RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true);
}

const EXTREME = [
  0,
  1,
  -1,
  0.5,
  -0,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53 + 2,
  1e300,
  -1e300,
  Number.MIN_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1_700_000_000_000,
  8.64e15,
  8.64e15 + 1,
  '7',
  null,
  true,
  [],
  {},
];

/** Float32 values with the extremes a tensor can hold: NaN, ±Infinity, -0, subnormals, the largest. */
const VALUES = [
  0,
  -0,
  1,
  -1.5,
  1e-45,
  -1e-45,
  3.4028234663852886e38,
  -3.4028234663852886e38,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1e-7,
];

describe('fuzz: ingest bodies built field by field, then every stored run exported', () => {
  let built: RunningServer;
  let bfx: Fixture;
  const RUNS = ['fz-a', 'fz-b'];

  beforeAll(async () => {
    bfx = await storeWith([], 'gradscope-fuzz-fields-');
    for (const id of RUNS) await bfx.store.startRun({ ...RUN, id, name: id });
    await bfx.store.flush();
    built = await buildServer({ db: bfx.db, port: 0 });
  });

  afterAll(async () => {
    await built?.close();
    await bfx?.cleanup();
  });

  it(`${FIELD_BODIES} bodies: shapes 0-d to 9-d, every dims/channelParts combination, extreme numbers`, async () => {
    const r = rng(SEED + 2);
    const deadline = Date.now() + TIME_BUDGET_MS;
    const statuses = new Map<number, number>();
    const accepted: { run: string; iteration: number; layer: string; values: number; nonFinite: number }[] =
      [];
    for (let sent = 0; sent < FIELD_BODIES && Date.now() < deadline; sent++) {
      // A shape of 0 to 9 axes of 0 to 3 (a long last axis now and then): at most a few thousand values.
      const rank = sent % 10;
      const shape = Array.from({ length: rank }, (_, a) =>
        a === rank - 1 && r.next() < 0.3 ? 2 * (1 + r.int(4)) : r.int(4),
      );
      if (product(shape) > 4096) shape.fill(1);
      const size = product(shape);
      const data = Float32Array.from({ length: size }, () =>
        r.next() < 0.1 ? r.pick(VALUES) : r.next() * 2 - 1,
      );
      const nonFiniteCount = data.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
      const names = Array.from({ length: rank }, (_, a) => `d${a}`);
      const dims = r.pick<unknown>([
        names,
        names,
        names,
        undefined, // omitted: axis0, axis1, …
        names.slice(1), // one too few
        [...names, 'extra'], // one too many
        names.map(() => 'same'), // repeated (for rank ≥ 2)
        names.map((n, a) => (a === 0 ? '' : n)), // an empty name
        names.map((n, a) => (a === 0 ? 'loss' : n)), // a fixed column's name
        names.map((n, a) => (a === 0 ? 7 : n)), // not a string
      ]);
      const channelParts = r.pick<unknown>([
        undefined,
        undefined,
        null,
        [],
        ['a'],
        ['a', 'b'],
        ['a', 'b', 'c'],
        ['a', 'a'],
        ['', 'b'],
        'a',
        [1, 2],
      ]);
      const meta: Record<string, unknown> = {
        run: r.next() < 0.9 ? r.pick(RUNS) : r.pick(['', 'fz-none', 7]),
        iteration: r.next() < 0.6 ? sent : r.pick(EXTREME),
        epoch: r.next() < 0.8 ? r.int(3) : r.pick(EXTREME),
        batch: r.next() < 0.8 ? r.int(100) : r.pick(EXTREME),
        layer: r.pick(['lstm', 'gru', 'dense']),
        layerClass: 'LSTM',
        kind: r.next() < 0.95 ? r.pick(KINDS) : 'gradient',
        loss: r.next() < 0.8 ? r.next() : r.pick(EXTREME),
        time: r.next() < 0.8 ? 1_700_000_000_000 + sent : r.pick(EXTREME),
        nonFinite: r.next() < 0.8 ? nonFiniteCount : r.pick(EXTREME),
      };
      if (r.next() < 0.3) meta.part = r.pick<unknown>(['kernel/i', 'forward', '', null, 3]);
      if (channelParts !== undefined) meta.channelParts = channelParts;
      if (r.next() < 0.03) meta.surprise = 1;
      const extension: Record<string, unknown> = { shape };
      if (dims !== undefined) extension.dim_names = dims;
      const res = await rawRequest(`${built.url}/api/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
        body: arrowBody(data, size, extension, JSON.stringify(meta)),
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expectCleanIn(bfx, 'POST /api/ingest', res.status, res.text);
      expect([201, 400, 404], res.text).toContain(res.status);
      if (res.status === 201) {
        accepted.push({
          run: meta.run as string,
          iteration: meta.iteration as number,
          layer: meta.layer as string,
          values: size,
          nonFinite: nonFiniteCount,
        });
      }
    }
    expect(statuses.get(201) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(20);

    // What was stored is what was accepted, each field in its range and agreeing with its tensor.
    let stored = 0;
    // A snapshot of a run never started starts it (the store's rule): every run the file holds is checked.
    const runs = (await built.reader.listRuns()).map((x) => x.id);
    for (const run of runs) {
      for (const s of await built.reader.listSnapshots({ run })) {
        stored++;
        const where = JSON.stringify(s);
        expect(s.iteration, where).toBeLessThanOrEqual(MAX_SNAPSHOT_INDEX);
        expect(s.epoch, where).toBeLessThanOrEqual(MAX_SNAPSHOT_INDEX);
        expect(s.dims.length, where).toBe(s.shape.length);
        expect(new Set(s.dims).size, where).toBe(s.dims.length);
        if (s.channelParts !== null) {
          expect(s.shape.length, where).toBeGreaterThan(0);
          expect(s.shape.at(-1)! % s.channelParts.length, where).toBe(0);
        }
        const t = await built.reader.readTensor(s.id);
        expect(s.nonFinite, where).toBe(t.data.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0));
        expect(t.data.length).toBe(product(s.shape));
      }
    }
    expect(stored).toBe(accepted.length);

    // Every stored run exports in every layout, to the last value.
    const out = mkdtempSync(join(tmpdir(), 'gradscope-fuzz-export-'));
    try {
      for (const run of runs) {
        const values = accepted.filter((a) => a.run === run).reduce((n, a) => n + a.values, 0);
        if (!accepted.some((a) => a.run === run)) continue;
        const long = await fetch(`${built.url}/api/runs/${run}/export?layout=long`);
        expect(
          long.status,
          await long
            .clone()
            .text()
            .catch(() => ''),
        ).toBe(200);
        expect(tableFromIPC(new Uint8Array(await long.arrayBuffer())).numRows).toBe(values);
        const parquet = await fetch(`${built.url}/api/runs/${run}/export?format=parquet`);
        expect(parquet.status).toBe(200);
        const bytes = Buffer.from(await parquet.arrayBuffer());
        expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
        expect(bytes.subarray(-4).toString()).toBe('PAR1');
        // The tensor layout: one file per (layer, kind, part, shape) group.
        const dir = join(out, run);
        const result = await writeExport(await planExport(built.reader, { run, out: dir, layout: 'tensor' }));
        expect(result.snapshots).toBe(accepted.filter((a) => a.run === run).length);
        let rows = 0;
        for (const f of readdirSync(dir)) rows += tableFromIPC(readFileSync(join(dir, f))).numRows;
        expect(rows).toBe(result.snapshots);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 90_000);
});

/** What no answer may contain (expectClean, against another fixture's directory). */
function expectCleanIn(f: Fixture, where: string, status: number, text: string) {
  expect(status, `${where} → ${status}: ${text.slice(0, 300)}`).toBeLessThan(500);
  expect(text, where).not.toMatch(/\n\s+at |node_modules|\/work\/|\.ts:\d+/);
  expect(text, where).not.toContain(f.dir);
}

/** A sample count for the reshaped bodies: 0 (an empty tensor) to 3. */
function N2(r: ReturnType<typeof rng>): number {
  return r.int(4);
}
