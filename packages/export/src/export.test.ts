import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DuckDBInstance } from '@duckdb/node-api';
import { KINDS, type Snapshot } from '@gradscope/format';
import { openReader, openStore, type Reader } from '@gradscope/store';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportRun, planExport, writeExport } from './index.js';
import { bytesOf, runInfo, snapshot, tempDir } from './test-util/fixtures.js';

let dir: string;
let cleanup: () => void;
let reader: Reader;
const written: Snapshot[] = [];

/** Scalars of run-1: loss and acc per step (NaN and Infinity where a diverging run would have them), the
 * probe loss at the snapshots, and a name that needs quoting in CSV. */
const scalarSeries: Record<string, [number, number][]> = {
  'a "quoted", name': [[3, 0.5]],
  acc: Array.from({ length: 100 }, (_, i) => [i, i / 100]),
  loss: Array.from({ length: 100 }, (_, i) => [
    i,
    i === 50 ? Number.NaN : i === 51 ? Number.POSITIVE_INFINITY : 1 / (i + 1),
  ]),
  'probe/loss': [0, 20, 200, 400].map((i) => [i, 0.1 + i / 1e4]),
};
const scalarPoints = Object.entries(scalarSeries).flatMap(([name, points]) =>
  points.map(([iteration, value]) => ({ iteration, name, value, time: 1_764_000_000_000 + iteration })),
);
/** Rows as the scalars export orders them: by name, then iteration. */
const scalarRows = Object.keys(scalarSeries)
  .sort()
  .flatMap((name) =>
    scalarSeries[name]!.map(([iteration, value]) => ({
      run: 'exp',
      run_id: 'run-1',
      name,
      iteration,
      value,
      time: 1_764_000_000_000 + iteration,
    })),
  );

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
  await store.writeScalars('run-1', scalarPoints);
  await store.startRun(runInfo('run-2', 'quiet'));
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
      'run_id',
      'iteration',
      'epoch',
      'batch',
      'loss',
      'tensor',
    ]);
    const field = t.schema.fields[6]!;
    expect(field.metadata.get('ARROW:extension:name')).toBe('arrow.fixed_shape_tensor');
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!)).toEqual({
      shape: [2, 5, 6],
      dim_names: ['sample', 'timestep', 'channel'],
    });
    expect(t.numRows).toBe(4);
    const iterations = Array.from(t.getChild('iteration')!.toArray() as Int32Array);
    expect(iterations).toEqual([0, 20, 200, 400]);
    // The run by its name and by its id.
    expect(t.getChild('run')!.get(0)).toBe('exp');
    expect(t.getChild('run_id')!.get(0)).toBe('run-1');
    expect(JSON.parse(t.schema.metadata.get('gradscope:export')!)).toMatchObject({
      run: 'exp',
      run_id: 'run-1',
    });
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
      'run_id',
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
      `SELECT run, run_id, layer, kind, part, channel_part, iteration, epoch, batch, loss, sample, timestep, channel, value
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
      expect([r.run, r.run_id, r.layer, r.kind, r.part]).toEqual([
        'exp',
        'run-1',
        'lstm_1',
        'output-grad',
        null,
      ]);
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
    const plan = await planExport(reader, { run: 'exp', layer: 'gru/2', kind: 'output-grad' });
    expect(plan.files.map((f) => [f.path, f.name])).toEqual([[null, 'exp-gru_2-output-grad.arrow']]);
    expect(plan.contentType).toBe('application/vnd.apache.arrow.file');
    const res = await writeExport(plan, sink);
    expect(res).toMatchObject({ rows: 4, snapshots: 4 });
    expect(res.bytes).toBe(Buffer.concat(chunks).byteLength);
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
      /no snapshot matching run "exp", layer "lstm_9"/,
    );
    await expect(
      exportRun(reader, { run: 'exp', out: join(dir, 'a.parquet'), format: 'arrow' }),
    ).rejects.toThrow(/extension \.parquet, which does not match format 'arrow'/);
    await expect(
      exportRun(reader, { run: 'exp', out: join(dir, 'b'), format: 'xlsx' as never }),
    ).rejects.toThrow(`format must be 'arrow', 'parquet' or 'csv', got "xlsx"`);
    await expect(exportRun(reader, { run: 'exp', out: join(dir, 'c'), format: 'csv' })).rejects.toThrow(
      `format 'csv' is for scalars only (data 'scalars', gradscope export --scalars); tensors export as 'arrow' or 'parquet'`,
    );
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });
});

describe('planExport', () => {
  it('resolves groups, layout and files without writing anything', async () => {
    const out = join(dir, 'planned-dir');
    const plan = await planExport(reader, { run: 'exp', out });
    expect([plan.run, plan.format, plan.layout, plan.ipc, plan.target]).toEqual([
      { id: 'run-1', name: 'exp' },
      'arrow',
      'tensor',
      'file',
      { type: 'directory', path: out },
    ]);
    expect(plan.files.map((f) => [f.name, f.snapshots, f.groups.map((g) => g.shape)])).toEqual([
      ['lstm_1__output-grad.arrow', 4, [[2, 5, 6]]],
      ['gru_2__output-grad.arrow', 4, [[2, 5, 3]]],
      ['lstm_1__weight__kernel_i.arrow', 4, [[4, 3]]],
    ]);
    expect(plan.snapshots).toBe(12);
    // The plan creates neither the directory nor a file.
    expect(existsSync(out)).toBe(false);

    const pq = await planExport(reader, { run: 'run-1', kind: 'output-grad', out: join(dir, 'one.parquet') });
    expect([pq.format, pq.layout, pq.contentType, pq.files.length]).toEqual([
      'parquet',
      'long',
      'application/vnd.apache.parquet',
      1,
    ]);
    expect(pq.files[0]!.groups.map((g) => g.layer)).toEqual(['lstm_1', 'gru/2']);
    expect(existsSync(join(dir, 'one.parquet'))).toBe(false);
  });

  it("layout 'auto': tensor for one group or a directory, long for several groups in one stream", async () => {
    const one = await planExport(reader, { run: 'exp', layer: 'gru/2', layout: 'auto' });
    expect(one.layout).toBe('tensor');
    const several = await planExport(reader, { run: 'exp', kind: 'output-grad', layout: 'auto' });
    expect([several.layout, several.files[0]!.groups.length, several.files[0]!.name]).toEqual([
      'long',
      2,
      'exp-output-grad.arrow',
    ]);
    const directory = await planExport(reader, { run: 'exp', layout: 'auto', out: join(dir, 'auto') });
    expect([directory.layout, directory.files.length]).toEqual(['tensor', 3]);
    const stream = await planExport(reader, { run: 'exp', layer: 'gru/2', ipc: 'stream' });
    expect([stream.ipc, stream.contentType, stream.files[0]!.name]).toEqual([
      'stream',
      'application/vnd.apache.arrow.stream',
      'exp-gru_2.arrows',
    ]);
  });

  it('throws before any byte for what a stream cannot hold, naming the groups and the options', async () => {
    await expect(planExport(reader, { run: 'exp', kind: 'output-grad', layout: 'tensor' })).rejects.toThrow(
      'the tensor layout puts one (layer, kind, part, shape) group in a stream, but the selection has 2: lstm_1/output-grad [2x5x6], gru/2/output-grad [2x5x3]; pick one with layer/kind/part, export to a directory, or use the long layout',
    );
    await expect(planExport(reader, { run: 'exp', format: 'parquet', layout: 'tensor' })).rejects.toThrow(
      /^Parquet exports use the long layout/,
    );
    await expect(planExport(reader, { run: 'exp', kind: 'gradient' as never })).rejects.toThrow(
      `kind must be one of ${KINDS.join(', ')}, got "gradient"`,
    );
    await expect(planExport(reader, { run: 'exp', iterations: [1.5] })).rejects.toThrow(
      'iterations must be integers >= 0, got [1.5]',
    );
    await expect(planExport(reader, { run: 'exp', layout: 'wide' as never })).rejects.toThrow(
      `layout must be 'tensor', 'long' or 'auto', got "wide"`,
    );
    await expect(planExport(reader, { run: 'exp', out: join(dir, 'no', 'such', 'x.arrow') })).rejects.toThrow(
      `directory ${join(dir, 'no', 'such')} does not exist`,
    );
    await expect(planExport(reader, { run: 'exp', layer: 'lstm_1', iterations: [7] })).rejects.toThrow(
      /no snapshot matching run "exp", layer "lstm_1", iterations 7$/,
    );
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('a stream plan refuses a file write and a file plan refuses a stream', async () => {
    const toStream = await planExport(reader, { run: 'exp', layer: 'gru/2' });
    await expect(writeExport(toStream)).rejects.toThrow(`this plan has no 'out' path`);
    const toFile = await planExport(reader, { run: 'exp', layer: 'gru/2', out: join(dir, 'never.arrow') });
    await expect(writeExport(toFile, new PassThrough())).rejects.toThrow(
      /this plan writes to .*never\.arrow/,
    );
    expect(existsSync(join(dir, 'never.arrow'))).toBe(false);
  });

  it('a .arrows file is the Arrow IPC stream flavour, readable with apache-arrow', async () => {
    const out = join(dir, 'gru.arrows');
    const res = await writeExport(await planExport(reader, { run: 'exp', layer: 'gru/2', out }));
    const bytes = readFileSync(out);
    // The IPC file flavour starts with the magic ARROW1; the stream flavour with a continuation marker.
    expect(bytes.subarray(0, 4).toString('hex')).toBe('ffffffff');
    expect(res.bytes).toBe(bytes.byteLength);
    const t = tableFromIPC(bytes);
    expect(Array.from(t.getChild('iteration')!.toArray() as Int32Array)).toEqual([0, 20, 200, 400]);
    const values = t.getChild('tensor')!.data[0]!.children[0]!.values as Float32Array;
    expect(bytesOf(values.subarray(30, 60)).equals(bytesOf(find('gru/2', 'output-grad', 20).data))).toBe(
      true,
    );
  });
});

describe('scalars export', () => {
  it('plans one file of every point, by name then iteration', async () => {
    const plan = await planExport(reader, { run: 'exp', data: 'scalars', out: join(dir, 'sc') });
    expect([plan.data, plan.layout, plan.format, plan.scalars]).toEqual([
      'scalars',
      'long',
      'arrow',
      { names: ['a "quoted", name', 'acc', 'loss', 'probe/loss'], points: 205 },
    ]);
    expect(plan.files.map((f) => f.path)).toEqual([join(dir, 'sc', 'exp__scalars.arrow')]);
    await expect(planExport(reader, { run: 'exp', data: 'scalars', layer: 'lstm_1' })).rejects.toThrow(
      'the scalars export takes the whole run: layer selects tensors, leave it out',
    );
  });

  it('Arrow: run (its name), run_id, name, iteration, value, time read back with apache-arrow, NaN and Infinity kept', async () => {
    const out = join(dir, 'scalars.arrow');
    const res = await exportRun(reader, { run: 'exp', data: 'scalars', out });
    expect([res.rows, res.snapshots]).toEqual([205, 0]);
    const t = tableFromIPC(readFileSync(out));
    expect(t.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'run:Dictionary<Int32, Utf8>',
      'run_id:Dictionary<Int32, Utf8>',
      'name:Dictionary<Int32, Utf8>',
      'iteration:Int32',
      'value:Float64',
      'time:Float64',
    ]);
    const rows = t.toArray().map((r) => ({ ...r.toJSON() }));
    expect(rows).toEqual(scalarRows);
  });

  it('Parquet reads back with DuckDB read_parquet, values exact', async () => {
    const out = join(dir, 'scalars.parquet');
    await exportRun(reader, { run: 'run-1', data: 'scalars', out });
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    const result = await con.runAndReadAll(
      `SELECT run, run_id, name, iteration, value, time FROM read_parquet('${out.replaceAll("'", "''")}')`,
    );
    expect(result.columnTypes().map(String)).toEqual([
      'VARCHAR',
      'VARCHAR',
      'VARCHAR',
      'INTEGER',
      'DOUBLE',
      'DOUBLE',
    ]);
    expect(result.getRowObjects()).toEqual(scalarRows);
    con.closeSync();
    instance.closeSync();
  });

  it('CSV: a header, RFC 4180 quoting, the shortest round-trip numbers; DuckDB read_csv reads it back', async () => {
    const out = join(dir, 'scalars.csv');
    const res = await exportRun(reader, { run: 'exp', data: 'scalars', out });
    const text = readFileSync(out, 'utf8');
    expect(res.bytes).toBe(Buffer.byteLength(text));
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'run,run_id,name,iteration,value,time',
      'exp,run-1,"a ""quoted"", name",3,0.5,1764000000003',
      'exp,run-1,acc,0,0,1764000000000',
    ]);
    expect(lines).toContain('exp,run-1,loss,50,NaN,1764000000050');
    expect(lines).toContain('exp,run-1,loss,51,Infinity,1764000000051');
    expect(lines).toContain(`exp,run-1,loss,2,${1 / 3},1764000000002`);
    expect(lines.at(-1)).toBe('');
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    const result = await con.runAndReadAll(
      `SELECT run, run_id, name, iteration::INTEGER AS iteration, value::DOUBLE AS value, time::DOUBLE AS time FROM read_csv('${out.replaceAll("'", "''")}', header = true)`,
    );
    expect(result.getRowObjects()).toEqual(scalarRows);
    con.closeSync();
    instance.closeSync();
  });

  it('a run without scalars, a layout or an extension that does not fit, is refused before any byte', async () => {
    await expect(
      planExport(reader, { run: 'quiet', data: 'scalars', out: join(dir, 'q.csv') }),
    ).rejects.toThrow(/runs\.gradscope: run "quiet" has no scalars$/);
    expect(existsSync(join(dir, 'q.csv'))).toBe(false);
    await expect(
      planExport(reader, { run: 'exp', data: 'scalars', format: 'parquet', layout: 'tensor' }),
    ).rejects.toThrow('the scalars export has one layout (one row per point), got layout "tensor"');
    await expect(
      planExport(reader, { run: 'exp', data: 'scalars', out: join(dir, 'sc.parquet'), format: 'csv' }),
    ).rejects.toThrow(/extension \.parquet, which does not match format 'csv'/);
  });
});
