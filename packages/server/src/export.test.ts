// GET /api/runs/:run/export over a real store and real HTTP: the export is planned before the headers, so a
// selection that cannot be one file answers 4xx with a message (it used to answer 200 with an empty body).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Snapshot } from '@gradscope/store';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type RunningServer } from './index.js';

const ITERATIONS = [10, 30];

/** Value k of a snapshot: distinct per layer, part and iteration, so a wrong row cannot pass. */
function snapshot(iteration: number, layer: string, shape: number[], part?: string): Snapshot {
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = (layer === 'gru_1' ? 1000 : 0) + (part === 'kernel/f' ? 500 : 0) + iteration * 10_000;
  const weight = part !== undefined;
  const s: Snapshot = {
    run: 'run-x',
    iteration,
    epoch: 0,
    batch: iteration,
    layer,
    layerClass: layer === 'gru_1' ? 'GRU' : 'LSTM',
    kind: weight ? 'weight' : 'output-grad',
    shape,
    dims: weight ? ['input', 'unit'] : ['sample', 'timestep', 'channel'],
    data: Float32Array.from({ length: n }, (_, k) => offset + k),
    loss: 1 / iteration,
    time: 1_700_000_000_000 + iteration,
    nonFinite: 0,
  };
  if (part !== undefined) s.part = part;
  return s;
}

let dir: string;
let server: RunningServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-server-export-'));
  const db = join(dir, 'runs.gradscope');
  const store = await openStore(db);
  await store.startRun({
    id: 'run-x',
    name: 'two-layers',
    startedAt: 1_700_000_000_000,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', every: 20, capture: ['output-grad', 'weight'], layers: ['lstm_1', 'gru_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'test',
  });
  for (const i of ITERATIONS) {
    await store.write(snapshot(i, 'lstm_1', [1, 3, 2]));
    await store.write(snapshot(i, 'gru_1', [1, 3, 4]));
    await store.write(snapshot(i, 'lstm_1', [2, 2], 'kernel/i'));
    await store.write(snapshot(i, 'lstm_1', [2, 2], 'kernel/f'));
  }
  await store.close();
  server = await buildServer({ db, port: 0, ingest: false });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string) => fetch(server.url + path);

describe('GET /api/runs/:run/export', () => {
  it.each([
    [
      'layout=tensor over two layers of different shapes',
      400,
      '?kind=output-grad&layout=tensor',
      'the tensor layout puts one (layer, kind, part, shape) group in a stream, but the selection has 2: lstm_1/output-grad [1x3x2], gru_1/output-grad [1x3x4]',
    ],
    [
      'format=parquet&layout=tensor',
      400,
      '?layer=lstm_1&kind=output-grad&format=parquet&layout=tensor',
      'Parquet exports use the long layout (one row per value)',
    ],
    ['an unknown run', 404, '', 'no run with id or name "nope"'],
    [
      'a layer without snapshots',
      404,
      '?layer=lstm_9',
      'no snapshot matching run "two-layers", layer "lstm_9"',
    ],
  ])('%s → %i with a message, not an empty 200', async (_what, status, query, message) => {
    const res = await get(
      `/api/runs/${status === 404 && query === '' ? 'nope' : 'two-layers'}/export${query}`,
    );
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { message: string };
    expect(body.message).toContain(message);
    // The client is not told where the store lives.
    expect(body.message).not.toContain(dir);
  });

  it('one layer and kind of one shape: the tensor layout, values as stored', async () => {
    const res = await get('/api/runs/two-layers/export?layer=gru_1&kind=output-grad');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.arrow.file');
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="two-layers-gru_1-output-grad.arrow"',
    );
    const t = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    expect(t.schema.fields.map((f) => f.name)).toEqual([
      'run',
      'run_id',
      'iteration',
      'epoch',
      'batch',
      'loss',
      'tensor',
    ]);
    // The run by its name and by its id, on every row.
    expect([...t.getChild('run')!.toArray()]).toEqual(ITERATIONS.map(() => 'two-layers'));
    expect([...t.getChild('run_id')!.toArray()]).toEqual(ITERATIONS.map(() => 'run-x'));
    expect(Array.from(t.getChild('iteration')!.toArray() as Int32Array)).toEqual(ITERATIONS);
    const values = t.getChild('tensor')!.data[0]!.children[0]!.values as Float32Array;
    expect(Array.from(values.subarray(0, 24))).toEqual([
      ...snapshot(10, 'gru_1', [1, 3, 4]).data,
      ...snapshot(30, 'gru_1', [1, 3, 4]).data,
    ]);
  });

  it('one layer and kind with several parts: the default falls back to one row per value', async () => {
    const res = await get('/api/runs/two-layers/export?layer=lstm_1&kind=weight&iterations=30');
    expect(res.status).toBe(200);
    const t = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    expect(t.numRows).toBe(8);
    const col = (name: string) => Array.from({ length: t.numRows }, (_, i) => t.getChild(name)!.get(i));
    expect(col('part')).toEqual([...Array(4).fill('kernel/i'), ...Array(4).fill('kernel/f')]);
    expect(col('input')).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(col('unit')).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(col('iteration')).toEqual(Array(8).fill(30));
    expect(col('value')).toEqual([300_000, 300_001, 300_002, 300_003, 300_500, 300_501, 300_502, 300_503]);
  });
});

describe('an export that fails', () => {
  let damaged: RunningServer;
  let damagedDir: string;

  beforeAll(async () => {
    damagedDir = mkdtempSync(join(tmpdir(), 'gradscope-server-export-damaged-'));
    const db = join(damagedDir, 'runs.gradscope');
    const store = await openStore(db);
    await store.startRun({
      id: 'run-d',
      name: 'damaged',
      startedAt: 1_700_000_000_000,
      model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
      options: { mode: 'probe', every: 20, capture: ['output-grad'], layers: ['lstm_1'] },
      backend: 'cpu',
      tfjsVersion: '4.22.0',
      host: 'test',
    });
    for (const i of ITERATIONS) await store.write({ ...snapshot(i, 'lstm_1', [1, 3, 2]), run: 'run-d' });
    await store.close();
    // Every stored payload loses its tensor column: reading any of them fails as damaged.
    const bytes = readFileSync(db);
    const name = Buffer.from('arrow.fixed_shape_tensor');
    for (let at = bytes.indexOf(name); at >= 0; at = bytes.indexOf(name, at + 1))
      bytes.write('arrow.fixed_shape_tensoX', at, 'latin1');
    writeFileSync(db, bytes);
    damaged = await buildServer({ db, port: 0, ingest: false });
  });

  afterAll(async () => {
    await damaged?.close();
    rmSync(damagedDir, { recursive: true, force: true });
  });

  it('before its first byte is a 500 with a message (it used to send 200 headers and reset the connection)', async () => {
    for (const query of ['layout=long', 'format=parquet', 'layer=lstm_1&kind=output-grad&layout=tensor']) {
      const res = await fetch(`${damaged.url}/api/runs/damaged/export?${query}`);
      expect(res.status, query).toBe(500);
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = await res.json();
      expect(body).toMatchObject({
        error: 'Internal Server Error',
        message: 'the server failed to answer this request (the details are in its log)',
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(JSON.stringify(body)).not.toContain(damagedDir);
    }
  });
});
