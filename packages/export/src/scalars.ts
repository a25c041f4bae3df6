// Scalars export (the `fit` logs and the probe loss per step): one row per point, columns run (its name),
// run_id, name, iteration, value (float64; NaN and ±Infinity kept), time (float64 wall-clock ms since the epoch, as
// recorded), ordered by name then iteration. Arrow, Parquet or CSV.
import type { ScalarSeries } from '@gradscope/format';
import {
  Dictionary,
  Field,
  Float64,
  Int32,
  makeData,
  type RecordBatch,
  Schema,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import type { ByteSink } from './byte-sink.js';
import { EXPORT_METADATA_KEY, float64Data, int32Data, structBatch, utf8FromIndices } from './columns.js';
import { type BatchSource, writeArrowBatches } from './long-layout.js';
import { writeParquet } from './parquet.js';
import type { ExportPlan, ExportRun } from './types.js';

/** Points per record batch (and CSV chunk). */
const ROWS_PER_BATCH = 1 << 16;

function scalarBatches(run: ExportRun, series: ScalarSeries[], plainStrings: boolean): BatchSource {
  const names = series.map((s) => s.name);
  const runType = new Dictionary(new Utf8(), new Int32(), 0);
  const runIdType = new Dictionary(new Utf8(), new Int32(), 1);
  const nameType = new Dictionary(new Utf8(), new Int32(), 2);
  const runDict = vectorFromArray([run.name], new Utf8());
  const runIdDict = vectorFromArray([run.id], new Utf8());
  const nameDict = vectorFromArray(names, new Utf8());
  const schema = new Schema(
    [
      // The run by its name (what a user calls it; reruns share it) and by its id (unique).
      new Field('run', plainStrings ? new Utf8() : runType, false),
      new Field('run_id', plainStrings ? new Utf8() : runIdType, false),
      new Field('name', plainStrings ? new Utf8() : nameType, false),
      new Field('iteration', new Int32(), false),
      new Field('value', new Float64(), false),
      new Field('time', new Float64(), false),
    ],
    new Map([
      [EXPORT_METADATA_KEY, JSON.stringify({ data: 'scalars', run: run.name, run_id: run.id, names })],
    ]),
  );
  const strings = (
    dictionary: string[],
    type: Dictionary<Utf8, Int32>,
    vector: typeof runDict,
    index: number,
    n: number,
  ) => {
    const indices = new Int32Array(n).fill(index);
    return plainStrings
      ? utf8FromIndices(dictionary, indices)
      : makeData({ type, length: n, nullCount: 0, data: indices, dictionary: vector });
  };
  async function* batches(): AsyncGenerator<{ batch: RecordBatch; last: boolean }> {
    for (let k = 0; k < series.length; k++) {
      const s = series[k]!;
      const n = s.iterations.length;
      for (let start = 0; start < n; start += ROWS_PER_BATCH) {
        const rows = Math.min(ROWS_PER_BATCH, n - start);
        const children = [
          strings([run.name], runType, runDict, 0, rows),
          strings([run.id], runIdType, runIdDict, 0, rows),
          strings(names, nameType, nameDict, k, rows),
          int32Data(Int32Array.from(s.iterations.subarray(start, start + rows))),
          float64Data(s.values.slice(start, start + rows)),
          float64Data(s.times.slice(start, start + rows)),
        ];
        yield {
          batch: structBatch(schema, children, rows),
          last: start + rows >= n && k === series.length - 1,
        };
      }
    }
  }
  return { schema, batches };
}

/** RFC 4180 quoting: only fields holding a comma, quote, line break or edge spaces are quoted. */
function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function writeCsv(run: ExportRun, series: ScalarSeries[], sink: ByteSink): Promise<number> {
  const enc = new TextEncoder();
  await sink.write(enc.encode('run,run_id,name,iteration,value,time\n'));
  const runFields = `${csvField(run.name)},${csvField(run.id)}`;
  let rows = 0;
  for (const s of series) {
    const prefix = `${runFields},${csvField(s.name)},`;
    for (let start = 0; start < s.iterations.length; start += ROWS_PER_BATCH) {
      const end = Math.min(start + ROWS_PER_BATCH, s.iterations.length);
      let text = '';
      // String(v) is the shortest text that reads back to the same float64; NaN, Infinity and -Infinity
      // as written are read by DuckDB, pandas and polars.
      for (let i = start; i < end; i++)
        text += `${prefix}${s.iterations[i]},${String(s.values[i])},${String(s.times[i])}\n`;
      await sink.write(enc.encode(text));
      rows += end - start;
    }
  }
  return rows;
}

/** Writes every scalar point of the plan's run in its format; `tick` once when done. Resolves to the rows. */
export async function writeScalars(
  plan: ExportPlan,
  sink: ByteSink,
  ipc: 'file' | 'stream',
  tick: () => void,
): Promise<number> {
  const series = await plan.reader.scalars(plan.run.id);
  if (plan.format === 'csv') {
    const rows = await writeCsv(plan.run, series, sink);
    tick();
    return rows;
  }
  const source = scalarBatches(plan.run, series, plan.format === 'parquet');
  return plan.format === 'parquet'
    ? writeParquet(source, sink, tick)
    : writeArrowBatches(source, sink, ipc, tick);
}
