import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportRun, exportRunToStream } from './export.js';
import { openReader, type Reader } from './reader.js';
import { openStore } from './store.js';
import { bytesOf, runInfo, snapshot, tempDir } from './test-util/fixtures.js';
import type { Snapshot } from './types.js';

let dir: string;
let cleanup: () => void;
let reader: Reader;
const written: Snapshot[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  const store = openStore(join(dir, 'runs.gradscope'));
  await store.startRun(runInfo('run-1', 'exp'));
  for (const iteration of [0, 20, 200, 400]) {
    const s = [
      snapshot({
        iteration,
        shape: [2, 5, 6],
        channelParts: ['forward', 'backward'],
        nonFinite: iteration === 200 ? 3 : 0,
      }),
      snapshot({ iteration, layer: 'gru/2', layerClass: 'GRU', shape: [2, 5, 3], seed: 50 + iteration }),
      snapshot({
        iteration,
        kind: 'weight',
        part: 'kernel/i',
        shape: [4, 3],
        dims: ['input', 'unit'],
        seed: 90 + iteration,
      }),
    ];
    for (const x of s) await store.write(x);
    written.push(...s);
  }
  await store.close();
  reader = openReader(join(dir, 'runs.gradscope'));
});
afterAll(() => {
  reader.close();
  cleanup();
});

function find(layer: string, kind: string, iteration: number): Snapshot {
  return written.find((s) => s.layer === layer && s.kind === kind && s.iteration === iteration)!;
}

describe('exportRun', () => {
  it('tensor layout: one Arrow IPC file per (layer, kind, part) with safe names, tensors bit-exact', async () => {
    const progress: number[] = [];
    const out = join(dir, 'tensor');
    const res = await exportRun(reader, {
      run: 'exp',
      out,
      format: 'arrow',
      layout: 'tensor',
      onProgress: (p) => progress.push(p.done),
    });
    expect(res.snapshots).toBe(12);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(readdirSync(out).sort()).toEqual([
      'gru_2__output-grad.arrow',
      'lstm_1__output-grad.arrow',
      'lstm_1__weight__kernel_i.arrow',
    ]);

    const t = tableFromIPC(readFileSync(join(out, 'lstm_1__output-grad.arrow')));
    expect(t.schema.fields.map((f) => f.name)).toEqual([
      'run',
      'iteration',
      'epoch',
      'batch',
      'loss',
      'tensor',
    ]);
    const field = t.schema.fields[5]!;
    expect(field.metadata.get('ARROW:extension:name')).toBe('arrow.fixed_shape_tensor');
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!)).toEqual({
      shape: [2, 5, 6],
      dim_names: ['sample', 'timestep', 'channel'],
    });
    expect(t.numRows).toBe(4);
    const iterations = Array.from(t.getChild('iteration')!.toArray() as Int32Array);
    expect(iterations).toEqual([0, 20, 200, 400]);
    expect(t.getChild('run')!.get(0)).toBe('run-1');
    // Rows of the tensor column: 60 float32 each, back to back (several small rows share one batch).
    let row = 0;
    for (const data of t.getChild('tensor')!.data) {
      const values = data.children[0]!.values as Float32Array;
      for (let r = 0; r < data.length; r++, row++) {
        const expected = find('lstm_1', 'output-grad', iterations[row]!);
        const got = values.subarray((data.offset + r) * 60, (data.offset + r + 1) * 60);
        expect(bytesOf(got).equals(bytesOf(expected.data))).toBe(true);
        expect(t.getChild('loss')!.get(row)).toBe(expected.loss);
        expect(t.getChild('epoch')!.get(row)).toBe(expected.epoch);
        expect(t.getChild('batch')!.get(row)).toBe(expected.batch);
      }
    }
    expect(row).toBe(4);
  });

  it('long layout (Arrow): one row per value with its indices, bit-exact, iterations and layer filter applied', async () => {
    const out = join(dir, 'long.arrow');
    const res = await exportRun(reader, {
      run: 'run-1',
      layer: 'lstm_1',
      iterations: [20, 400],
      out,
      layout: 'long',
    });
    expect(res.rows).toBe(2 * 60 + 2 * 12);
    const t = tableFromIPC(readFileSync(out));
    expect(t.schema.fields.map((f) => f.name)).toEqual([
      'run',
      'layer',
      'kind',
      'part',
      'channel_part',
      'iteration',
      'epoch',
      'batch',
      'loss',
      'sample',
      'timestep',
      'channel',
      'input',
      'unit',
      'value',
    ]);
    const col = (name: string) => t.getChild(name)!;
    const valueBits = new Uint32Array(Float32Array.from(col('value').toArray() as Float32Array).buffer);
    for (let i = 0; i < t.numRows; i++) {
      const kind = col('kind').get(i) as string;
      const s = find('lstm_1', kind, col('iteration').get(i) as number);
      let flat: number;
      if (kind === 'output-grad') {
        const [n, ts, c] = [col('sample').get(i), col('timestep').get(i), col('channel').get(i)] as number[];
        flat = (n! * 5 + ts!) * 6 + c!;
        expect(col('channel_part').get(i)).toBe(c! < 3 ? 'forward' : 'backward');
        expect(col('part').get(i)).toBeNull();
        expect(col('input').get(i)).toBeNull();
      } else {
        flat = (col('input').get(i) as number) * 3 + (col('unit').get(i) as number);
        expect(col('part').get(i)).toBe('kernel/i');
        expect(col('sample').get(i)).toBeNull();
      }
      expect(valueBits[i]).toBe(new Uint32Array(s.data.buffer)[flat]);
      expect(col('loss').get(i)).toBe(s.loss);
    }
  });

  it('Parquet (long layout) reads back bit-exactly with DuckDB read_parquet', async () => {
    const out = join(dir, 'pq');
    await exportRun(reader, { run: 'exp', kind: 'output-grad', out, format: 'parquet' });
    expect(readdirSync(out).sort()).toEqual(['gru_2__output-grad.parquet', 'lstm_1__output-grad.parquet']);
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    const file = join(out, 'lstm_1__output-grad.parquet').replaceAll("'", "''");
    const result = await con.runAndReadAll(
      `SELECT run, layer, kind, part, channel_part, iteration, epoch, batch, loss, sample, timestep, channel, value
       FROM read_parquet('${file}') ORDER BY iteration, sample, timestep, channel`,
    );
    const rows = result.getRowObjects();
    expect(rows.length).toBe(4 * 60);
    expect(result.columnTypes().map(String)).toEqual([
      'VARCHAR',
      'VARCHAR',
      'VARCHAR',
      'VARCHAR',
      'VARCHAR',
      'INTEGER',
      'INTEGER',
      'INTEGER',
      'DOUBLE',
      'INTEGER',
      'INTEGER',
      'INTEGER',
      'FLOAT',
    ]);
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    rows.forEach((r, i) => {
      const s = find('lstm_1', 'output-grad', r.iteration as number);
      const flat = i % 60;
      expect([r.run, r.layer, r.kind, r.part]).toEqual(['run-1', 'lstm_1', 'output-grad', null]);
      expect(((r.sample as number) * 5 + (r.timestep as number)) * 6 + (r.channel as number)).toBe(flat);
      f32[0] = r.value as number;
      const expected = new Uint32Array(s.data.buffer)[flat]!;
      // DuckDB normalizes NaN payloads; every other value is bit-exact.
      if (Number.isNaN(s.data[flat]!)) expect(Number.isNaN(r.value as number)).toBe(true);
      else expect(u32[0]).toBe(expected);
      expect(r.loss).toBe(s.loss);
    });
    con.closeSync();
    instance.closeSync();
  });

  it('streams one file to a Node Writable (what the server sends)', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const res = await exportRunToStream(reader, { run: 'exp', layer: 'gru/2', kind: 'output-grad' }, sink);
    expect(res).toMatchObject({ rows: 4, snapshots: 4 });
    const t = tableFromIPC(Buffer.concat(chunks));
    expect(Array.from(t.getChild('iteration')!.toArray() as Int32Array)).toEqual([0, 20, 200, 400]);
    const first = t.getChild('tensor')!.data[0]!.children[0]!.values as Float32Array;
    expect(bytesOf(first.subarray(0, 30)).equals(bytesOf(find('gru/2', 'output-grad', 0).data))).toBe(true);
  });

  it('refuses selections and options that cannot be honoured, naming the value', async () => {
    await expect(
      exportRun(reader, { run: 'exp', out: join(dir, 'all.arrow'), layout: 'tensor' }),
    ).rejects.toThrow(/the tensor layout puts one .* group in one file, but the selection has 3/);
    await expect(
      exportRun(reader, { run: 'exp', out: join(dir, 'x'), format: 'parquet', layout: 'tensor' }),
    ).rejects.toThrow(/Parquet exports use the long layout/);
    await expect(exportRun(reader, { run: 'nope', out: join(dir, 'y') })).rejects.toThrow(
      /no run with id or name "nope"/,
    );
    await expect(exportRun(reader, { run: 'exp', layer: 'lstm_9', out: join(dir, 'z') })).rejects.toThrow(
      /no snapshots match run "exp", layer "lstm_9"/,
    );
    await expect(
      exportRun(reader, { run: 'exp', out: join(dir, 'a.parquet'), format: 'arrow' }),
    ).rejects.toThrow(/extension \.parquet, which does not match format 'arrow'/);
    await expect(
      exportRun(reader, { run: 'exp', out: join(dir, 'b'), format: 'csv' as never }),
    ).rejects.toThrow(`format must be 'arrow' or 'parquet', got "csv"`);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });
});
