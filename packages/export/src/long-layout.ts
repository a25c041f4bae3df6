// Long layout: one row per value with its run, layer, kind, part, (channel_part,) iteration, epoch, batch,
// loss, one int32 column per dim (null where a snapshot lacks that dim) and value (float32).

import { collectingWriter } from '@gradscope/format';
import type { RunReader } from '@gradscope/store';
import {
  type Data,
  Dictionary,
  Field,
  Float32,
  Float64,
  Int32,
  makeData,
  type RecordBatch,
  Schema,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import type { ByteSink } from './byte-sink.js';
import {
  allNull,
  EXPORT_METADATA_KEY,
  float64Data,
  int32Data,
  newIpcWriter,
  PARQUET_ROW_GROUP_ROWS,
  structBatch,
  utf8FromIndices,
} from './columns.js';
import type { ExportGroup, ExportRun } from './types.js';

/**
 * Rows per record batch, a Parquet row group's worth: each column of a batch is a fresh array, and arrays of
 * megabytes, freed once written, leave the allocator holding memory it does not give back.
 */
const ROWS_PER_BATCH = PARQUET_ROW_GROUP_ROWS;
/** Column names a dim must not take; a dim with one of these names becomes `dim_<name>`. */
const FIXED_COLUMNS = new Set([
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
  'value',
]);

/** A schema and its batches, produced lazily one snapshot at a time; `last` marks a snapshot's last batch. */
export interface BatchSource {
  schema: Schema;
  batches(): AsyncGenerator<{ batch: RecordBatch; last: boolean }>;
}

interface DictColumn {
  name: string;
  nullable: boolean;
  values: string[];
  type: Dictionary<Utf8, Int32>;
  vector: Vector<Utf8>;
  index: Map<string, number>;
}

function dictColumn(name: string, values: string[], id: number, nullable: boolean): DictColumn {
  const distinct = [...new Set(values)];
  return {
    name,
    nullable,
    values: distinct,
    type: new Dictionary(new Utf8(), new Int32(), id),
    vector: vectorFromArray(distinct, new Utf8()),
    index: new Map(distinct.map((v, i) => [v, i])),
  };
}

/**
 * The long layout of `groups` as record batches. `plainStrings`: Utf8 string columns (for Parquet) instead of
 * dictionary-encoded ones (Arrow).
 */
export function longBatches(
  reader: RunReader,
  run: ExportRun,
  groups: ExportGroup[],
  plainStrings: boolean,
): BatchSource {
  const snapshots = groups.flatMap((g) => g.snapshots);
  const dims: string[] = [];
  for (const g of groups) for (const d of g.dims) if (!dims.includes(d)) dims.push(d);
  // A dim named like a fixed column becomes `dim_<name>`; should that be taken too, `dim_<name>_2`, …
  const taken = new Set(FIXED_COLUMNS);
  const columnOf = new Map<string, string>();
  for (const d of dims) {
    let name = FIXED_COLUMNS.has(d) ? `dim_${d}` : d;
    for (let k = 2; taken.has(name); k++) name = `${FIXED_COLUMNS.has(d) ? `dim_${d}` : d}_${k}`;
    taken.add(name);
    columnOf.set(d, name);
  }
  const dimColumn = (d: string) => columnOf.get(d)!;
  const hasChannelParts = snapshots.some((s) => s.channelParts !== null);
  const dicts = [
    // The run by its name (what a user calls it; reruns share it) and by its id (unique).
    dictColumn('run', [run.name], 0, false),
    dictColumn('run_id', [run.id], 1, false),
    dictColumn(
      'layer',
      snapshots.map((s) => s.layer),
      2,
      false,
    ),
    dictColumn(
      'kind',
      snapshots.map((s) => s.kind),
      3,
      false,
    ),
    dictColumn(
      'part',
      snapshots.flatMap((s) => (s.part === null ? [] : [s.part])),
      4,
      true,
    ),
    ...(hasChannelParts
      ? [
          dictColumn(
            'channel_part',
            snapshots.flatMap((s) => s.channelParts ?? []),
            5,
            true,
          ),
        ]
      : []),
  ];
  const dimNullable = dims.map((d) => snapshots.some((s) => !s.dims.includes(d)));
  const schema = new Schema(
    [
      ...dicts.map((c) => new Field(c.name, plainStrings ? new Utf8() : c.type, c.nullable)),
      new Field('iteration', new Int32(), false),
      new Field('epoch', new Int32(), false),
      new Field('batch', new Int32(), false),
      new Field('loss', new Float64(), false),
      ...dims.map((d, i) => new Field(dimColumn(d), new Int32(), dimNullable[i])),
      new Field('value', new Float32(), false),
    ],
    new Map([[EXPORT_METADATA_KEY, JSON.stringify({ layout: 'long', run: run.name, run_id: run.id, dims })]]),
  );

  async function* batches(): AsyncGenerator<{ batch: RecordBatch; last: boolean }> {
    for (const s of snapshots) {
      const t = await reader.readTensor(s.id);
      const n = t.data.length;
      const rank = s.shape.length;
      const lastAxis = s.shape[rank - 1] ?? 1;
      // Channel parts split the last axis evenly; ones that cannot (a 0-d tensor, an uneven split: ingest
      // refuses both, an older file may hold them) leave channel_part null rather than fail the export.
      const parts =
        s.channelParts && rank > 0 && lastAxis % s.channelParts.length === 0 ? s.channelParts : null;
      const width = parts ? lastAxis / parts.length : lastAxis;
      const axisOf = dims.map((d) => s.dims.indexOf(d));
      for (let start = 0; start < n || (n === 0 && start === 0); start += ROWS_PER_BATCH) {
        const rows = Math.min(ROWS_PER_BATCH, n - start);
        // Multi-index of `start`, then counted up row by row.
        const idx = new Int32Array(rank);
        let rem = start;
        for (let a = rank - 1; a >= 0; a--) {
          idx[a] = rem % s.shape[a]!;
          rem = Math.floor(rem / s.shape[a]!);
        }
        const dimCols = axisOf.map((a) => (a >= 0 ? new Int32Array(rows) : null));
        const cols: [number, Int32Array][] = [];
        axisOf.forEach((a, k) => {
          if (a >= 0) cols.push([a, dimCols[k]!]);
        });
        for (let r = 0; r < rows; r++) {
          for (const [a, col] of cols) col[r] = idx[a]!;
          for (let a = rank - 1; a >= 0; a--) {
            if (++idx[a]! < s.shape[a]!) break;
            idx[a] = 0;
          }
        }
        const children: Data[] = [];
        for (const c of dicts) {
          let value: string | null;
          let perRow: Int32Array | null = null;
          if (c.name === 'run') value = run.name;
          else if (c.name === 'run_id') value = run.id;
          else if (c.name === 'layer') value = s.layer;
          else if (c.name === 'kind') value = s.kind;
          else if (c.name === 'part') value = s.part;
          else {
            // channel_part: which part of the last axis each value falls in.
            value = null;
            if (parts) {
              const lastCol = dimCols[dims.indexOf(s.dims[rank - 1]!)]!;
              const partIdx = parts.map((p) => c.index.get(p)!);
              perRow = new Int32Array(rows);
              for (let r = 0; r < rows; r++) perRow[r] = partIdx[(lastCol[r]! / width) | 0]!;
            }
          }
          const indices = perRow ?? new Int32Array(rows).fill(value === null ? 0 : c.index.get(value)!);
          const isNull = perRow === null && value === null;
          const validity = isNull ? allNull(rows) : undefined;
          const nullCount = isNull ? rows : 0;
          children.push(
            plainStrings
              ? utf8FromIndices(c.values, indices, validity, nullCount)
              : makeData({
                  type: c.type,
                  length: rows,
                  nullCount,
                  data: indices,
                  dictionary: c.vector,
                  ...(validity ? { nullBitmap: validity } : {}),
                }),
          );
        }
        children.push(int32Data(new Int32Array(rows).fill(s.iteration)));
        children.push(int32Data(new Int32Array(rows).fill(s.epoch)));
        children.push(int32Data(new Int32Array(rows).fill(s.batch)));
        children.push(float64Data(new Float64Array(rows).fill(s.loss)));
        dimCols.forEach((col) => {
          children.push(col ? int32Data(col) : int32Data(new Int32Array(rows), allNull(rows), rows));
        });
        children.push(
          makeData({
            type: new Float32(),
            length: rows,
            nullCount: 0,
            data: t.data.subarray(start, start + rows),
          }),
        );
        yield { batch: structBatch(schema, children, rows), last: start + rows >= n };
        if (n === 0) break;
      }
    }
  }
  return { schema, batches };
}

/** Writes a batch source as one Arrow IPC file or stream; `tick` after each snapshot. Resolves to the rows. */
export async function writeArrowBatches(
  source: BatchSource,
  sink: ByteSink,
  ipc: 'file' | 'stream',
  tick: () => void,
): Promise<number> {
  const [writer, collector] = collectingWriter(newIpcWriter(ipc));
  let rows = 0;
  let any = false;
  for await (const { batch, last } of source.batches()) {
    writer.write(batch);
    any = true;
    rows += batch.numRows;
    await sink.writeAll(collector.take());
    if (last) tick();
  }
  // An empty file still carries the schema.
  if (!any) writer.write(structBatch(source.schema, [], 0));
  writer.close();
  await sink.writeAll(collector.take());
  return rows;
}
