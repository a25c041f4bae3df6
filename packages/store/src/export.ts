// Export of a run's tensors as Arrow IPC files (tensor or long layout) or Parquet (long layout), to files or
// to any Node Writable (the server streams the same bytes).
import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  type Data,
  Dictionary,
  Field,
  Float32,
  Float64,
  Int32,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchStreamWriter,
  type RecordBatchWriter,
  Schema,
  Struct,
  Table,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { StoreError } from './errors.js';
import type { Reader } from './reader.js';
import { collectingWriter, product, tensorData, tensorField } from './tensor.js';
import type { Kind, SnapshotInfo } from './types.js';
import { KIND_SET } from './validate.js';

export type ExportFormat = 'arrow' | 'parquet';
export type ExportLayout = 'tensor' | 'long';

/** Which snapshots to export. */
export interface ExportSelection {
  /** Run id or name. */
  run: string;
  layer?: string;
  kind?: Kind;
  /** A part; null = whole-layer snapshots only; undefined = every part. */
  part?: string | null;
  /** Only these iterations (all when undefined). */
  iterations?: number[];
}

export interface ExportProgress {
  /** Snapshots written so far. */
  done: number;
  /** Snapshots to write in all. */
  total: number;
  /** File being written (or '<stream>'). */
  file: string;
}

export interface ExportOptions extends ExportSelection {
  /**
   * A file path ending in .arrow, .arrows, .feather, .ipc or .parquet: one file. Anything else: a directory
   * (created if missing) with one file per (layer, kind, part) group.
   */
  out: string;
  /** Default: 'parquet' when `out` ends in .parquet, else 'arrow'. */
  format?: ExportFormat;
  /** Default: 'tensor' for arrow, 'long' for parquet (the only Parquet layout). */
  layout?: ExportLayout;
  onProgress?: (progress: ExportProgress) => void;
}

export interface StreamExportOptions extends ExportSelection {
  format?: ExportFormat;
  layout?: ExportLayout;
  /** Arrow IPC flavour: 'file' (default; random access, .arrow/Feather v2) or 'stream' (.arrows). */
  ipc?: 'file' | 'stream';
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportedFile {
  path: string;
  rows: number;
  snapshots: number;
  bytes: number;
}

export interface ExportResult {
  files: ExportedFile[];
  snapshots: number;
  rows: number;
}

/** A set of snapshots that share one file in a directory export. */
export interface ExportGroup {
  layer: string;
  kind: Kind;
  part: string | null;
  /** The common shape (tensor layout groups split by shape; long layout groups may mix shapes: null). */
  shape: number[] | null;
  dims: string[];
  snapshots: SnapshotInfo[];
  /** Safe file name stem derived from layer, kind and part (and shape when one series has several). */
  name: string;
}

const SINGLE_FILE_EXT = new Set(['.arrow', '.arrows', '.feather', '.ipc', '.parquet']);
/** Rows per record batch in the long layout. */
const LONG_ROWS_PER_BATCH = 1 << 20;
/** Values per record batch in the tensor layout (small tensors are grouped into one batch). */
const TENSOR_VALUES_PER_BATCH = 1 << 22;
const TENSOR_ROWS_PER_BATCH = 1024;
const FIXED_LONG_COLUMNS = new Set([
  'run',
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

function invalid(message: string): StoreError {
  return new StoreError('EINVAL', message);
}

function safeName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned === '' ? '_' : cleaned.slice(0, 100);
}

/** Snapshots of a selection, grouped per file: by (layer, kind, part), and by shape for the tensor layout. */
export function exportGroups(
  reader: Reader,
  selection: ExportSelection,
  layout: ExportLayout = 'tensor',
): ExportGroup[] {
  if (selection.kind !== undefined && !KIND_SET.has(selection.kind)) {
    throw invalid(`kind must be one of ${[...KIND_SET].join(', ')}, got ${JSON.stringify(selection.kind)}`);
  }
  if (selection.iterations !== undefined) {
    if (
      !Array.isArray(selection.iterations) ||
      !selection.iterations.every((i) => Number.isInteger(i) && i >= 0)
    ) {
      throw invalid(`iterations must be integers >= 0, got ${JSON.stringify(selection.iterations)}`);
    }
  }
  const snapshots = reader.listSnapshots({
    run: selection.run,
    ...(selection.layer !== undefined ? { layer: selection.layer } : {}),
    ...(selection.kind !== undefined ? { kind: selection.kind } : {}),
    ...(selection.part !== undefined ? { part: selection.part } : {}),
    ...(selection.iterations !== undefined ? { iterations: selection.iterations } : {}),
  });
  const series = new Map<string, SnapshotInfo[]>();
  for (const s of snapshots) {
    const key = JSON.stringify([s.layer, s.kind, s.part]);
    const list = series.get(key);
    if (list) list.push(s);
    else series.set(key, [s]);
  }
  const groups: ExportGroup[] = [];
  const used = new Set<string>();
  const unique = (stem: string) => {
    let name = stem;
    for (let k = 2; used.has(name.toLowerCase()); k++) name = `${stem}_${k}`;
    used.add(name.toLowerCase());
    return name;
  };
  for (const list of series.values()) {
    const first = list[0]!;
    const stem = `${safeName(first.layer)}__${first.kind}${first.part !== null ? `__${safeName(first.part)}` : ''}`;
    if (layout === 'long') {
      const dims = [...first.dims];
      for (const s of list) for (const d of s.dims) if (!dims.includes(d)) dims.push(d);
      const sameShape = list.every((s) => s.shape.join(',') === first.shape.join(','));
      groups.push({
        layer: first.layer,
        kind: first.kind,
        part: first.part,
        shape: sameShape ? first.shape : null,
        dims,
        snapshots: list,
        name: unique(stem),
      });
      continue;
    }
    const byShape = new Map<string, SnapshotInfo[]>();
    for (const s of list) {
      const key = JSON.stringify([s.shape, s.dims]);
      const l = byShape.get(key);
      if (l) l.push(s);
      else byShape.set(key, [s]);
    }
    for (const l of byShape.values()) {
      const s0 = l[0]!;
      groups.push({
        layer: s0.layer,
        kind: s0.kind,
        part: s0.part,
        shape: s0.shape,
        dims: s0.dims,
        snapshots: l,
        name: unique(byShape.size > 1 ? `${stem}__${s0.shape.join('x')}` : stem),
      });
    }
  }
  return groups;
}

/** Writes chunks to a Node Writable, waiting for 'drain' when it asks to. */
class Sink {
  bytes = 0;
  constructor(readonly out: Writable) {}
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.bytes += chunk.byteLength;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
  async writeAll(chunks: Uint8Array[]): Promise<void> {
    for (const c of chunks) await this.write(c);
  }
}

function int32Data(values: Int32Array, validity?: Uint8Array, nullCount = 0): Data<Int32> {
  return makeData({
    type: new Int32(),
    length: values.length,
    nullCount,
    data: values,
    ...(validity ? { nullBitmap: validity } : {}),
  });
}

function float64Data(values: Float64Array): Data<Float64> {
  return makeData({ type: new Float64(), length: values.length, nullCount: 0, data: values });
}

function structBatch(schema: Schema, children: Data[], length: number): RecordBatch {
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }),
  );
}

function allNull(length: number): Uint8Array {
  return new Uint8Array((length + 7) >> 3);
}

interface Progress {
  done: number;
  total: number;
  file: string;
  cb: ((p: ExportProgress) => void) | undefined;
}

function tick(p: Progress): void {
  p.done++;
  p.cb?.({ done: p.done, total: p.total, file: p.file });
}

function newIpcWriter(ipc: 'file' | 'stream'): RecordBatchWriter {
  return ipc === 'file' ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
}

/** Tensor layout: columns run, iteration, epoch, batch, loss, tensor (fixed_shape_tensor). */
async function writeTensorGroup(
  reader: Reader,
  runId: string,
  group: ExportGroup,
  sink: Sink,
  ipc: 'file' | 'stream',
  progress: Progress,
): Promise<number> {
  const shape = group.shape!;
  const size = product(shape);
  const tensor = tensorField('tensor', shape, group.dims);
  const schema = new Schema(
    [
      new Field('run', new Utf8(), false),
      new Field('iteration', new Int32(), false),
      new Field('epoch', new Int32(), false),
      new Field('batch', new Int32(), false),
      new Field('loss', new Float64(), false),
      tensor,
    ],
    new Map([
      [
        'gradscope:export',
        JSON.stringify({
          layout: 'tensor',
          run: runId,
          layer: group.layer,
          kind: group.kind,
          part: group.part,
        }),
      ],
    ]),
  );
  const [writer, collector] = collectingWriter(newIpcWriter(ipc));
  let rows: SnapshotInfo[] = [];
  let values: Float32Array[] = [];
  let pendingValues = 0;
  const emit = async () => {
    if (rows.length === 0) return;
    const n = rows.length;
    let data: Float32Array;
    if (values.length === 1) {
      data = values[0]!;
    } else {
      data = new Float32Array(n * size);
      for (let i = 0; i < values.length; i++) data.set(values[i]!, i * size);
    }
    const batch = structBatch(
      schema,
      [
        vectorFromArray(
          rows.map(() => runId),
          new Utf8(),
        ).data[0]!,
        int32Data(Int32Array.from(rows, (r) => r.iteration)),
        int32Data(Int32Array.from(rows, (r) => r.epoch)),
        int32Data(Int32Array.from(rows, (r) => r.batch)),
        float64Data(Float64Array.from(rows, (r) => r.loss)),
        tensorData(tensor.type, data, n),
      ],
      n,
    );
    writer.write(batch);
    await sink.writeAll(collector.take());
    rows = [];
    values = [];
    pendingValues = 0;
  };
  for (const s of group.snapshots) {
    const t = reader.readTensor(s.id);
    rows.push(s);
    values.push(t.data);
    pendingValues += size;
    if (pendingValues >= TENSOR_VALUES_PER_BATCH || rows.length >= TENSOR_ROWS_PER_BATCH) await emit();
    tick(progress);
  }
  await emit();
  if (group.snapshots.length === 0) writer.write(structBatch(schema, [], 0));
  writer.close();
  await sink.writeAll(collector.take());
  return group.snapshots.length;
}

/** A Utf8 column from dictionary indices (Parquet gets plain strings; it dictionary-encodes them itself). */
function utf8FromIndices(
  dictionary: string[],
  indices: Int32Array,
  validity: Uint8Array | undefined,
  nullCount: number,
): Data<Utf8> {
  const enc = new TextEncoder();
  const bytes = dictionary.map((s) => enc.encode(s));
  const n = indices.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const isNull = validity !== undefined && (validity[i >> 3]! & (1 << (i & 7))) === 0;
    if (!isNull) total += bytes[indices[i]!]!.byteLength;
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    if (offsets[i + 1] !== offsets[i]) data.set(bytes[indices[i]!]!, offsets[i]!);
  }
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount,
    valueOffsets: offsets,
    data,
    ...(validity ? { nullBitmap: validity } : {}),
  });
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
 * Long layout: one row per value with its run, layer, kind, part, (channel_part,) iteration, epoch, batch,
 * loss, one int32 column per dim (null where a snapshot lacks that dim) and value (float32).
 */
async function writeLong(
  reader: Reader,
  runId: string,
  groups: ExportGroup[],
  sink: Sink,
  format: ExportFormat,
  ipc: 'file' | 'stream',
  progress: Progress,
): Promise<number> {
  const snapshots = groups.flatMap((g) => g.snapshots);
  const dims: string[] = [];
  for (const g of groups) for (const d of g.dims) if (!dims.includes(d)) dims.push(d);
  const dimColumn = (d: string) =>
    FIXED_LONG_COLUMNS.has(d) || dims.indexOf(d) !== dims.lastIndexOf(d) ? `dim_${d}` : d;
  const hasChannelParts = snapshots.some((s) => s.channelParts !== null);
  const dicts = [
    dictColumn('run', [runId], 0, false),
    dictColumn(
      'layer',
      snapshots.map((s) => s.layer),
      1,
      false,
    ),
    dictColumn(
      'kind',
      snapshots.map((s) => s.kind),
      2,
      false,
    ),
    dictColumn(
      'part',
      snapshots.flatMap((s) => (s.part === null ? [] : [s.part])),
      3,
      true,
    ),
    ...(hasChannelParts
      ? [
          dictColumn(
            'channel_part',
            snapshots.flatMap((s) => s.channelParts ?? []),
            4,
            true,
          ),
        ]
      : []),
  ];
  const dimNullable = dims.map((d) => snapshots.some((s) => !s.dims.includes(d)));
  const forParquet = format === 'parquet';
  const fields: Field[] = [
    ...dicts.map((c) => new Field(c.name, forParquet ? new Utf8() : c.type, c.nullable)),
    new Field('iteration', new Int32(), false),
    new Field('epoch', new Int32(), false),
    new Field('batch', new Int32(), false),
    new Field('loss', new Float64(), false),
    ...dims.map((d, i) => new Field(dimColumn(d), new Int32(), dimNullable[i])),
    new Field('value', new Float32(), false),
  ];
  const schema = new Schema(
    fields,
    new Map([['gradscope:export', JSON.stringify({ layout: 'long', run: runId, dims })]]),
  );

  /** Yields the record batches of the export, one snapshot at a time. */
  function* batches(): Generator<{ batch: RecordBatch; last: boolean }> {
    for (let si = 0; si < snapshots.length; si++) {
      const s = snapshots[si]!;
      const t = reader.readTensor(s.id);
      const n = t.data.length;
      const rank = s.shape.length;
      const lastAxis = s.shape[rank - 1] ?? 1;
      const width = s.channelParts ? lastAxis / s.channelParts.length : lastAxis;
      for (let start = 0; start < n || (n === 0 && start === 0); start += LONG_ROWS_PER_BATCH) {
        const rows = Math.min(LONG_ROWS_PER_BATCH, n - start);
        // Multi-index of `start`, then counted up row by row.
        const idx = new Int32Array(rank);
        let rem = start;
        for (let a = rank - 1; a >= 0; a--) {
          idx[a] = rem % s.shape[a]!;
          rem = Math.floor(rem / s.shape[a]!);
        }
        const dimCols = dims.map(() => null as Int32Array | null);
        const axisOf = dims.map((d) => s.dims.indexOf(d));
        for (let k = 0; k < dims.length; k++) if (axisOf[k]! >= 0) dimCols[k] = new Int32Array(rows);
        const cols = axisOf.map((a, k) => [a, dimCols[k]] as const).filter(([a]) => a >= 0) as [
          number,
          Int32Array,
        ][];
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
          if (c.name === 'run') value = runId;
          else if (c.name === 'layer') value = s.layer;
          else if (c.name === 'kind') value = s.kind;
          else if (c.name === 'part') value = s.part;
          else {
            value = null;
            if (s.channelParts) {
              const lastCol = dimCols[dims.indexOf(s.dims[rank - 1]!)]!;
              const partIdx = s.channelParts.map((p) => c.index.get(p)!);
              perRow = new Int32Array(rows);
              for (let r = 0; r < rows; r++) perRow[r] = partIdx[(lastCol[r]! / width) | 0]!;
            }
          }
          const indices = perRow ?? new Int32Array(rows).fill(value === null ? 0 : c.index.get(value)!);
          const isNull = perRow === null && value === null;
          const validity = isNull ? allNull(rows) : undefined;
          const nullCount = isNull ? rows : 0;
          children.push(
            forParquet
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
        dims.forEach((_, k) => {
          const col = dimCols[k];
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

  let rowsWritten = 0;
  if (format === 'arrow') {
    const [writer, collector] = collectingWriter(newIpcWriter(ipc));
    for (const { batch, last } of batches()) {
      writer.write(batch);
      rowsWritten += batch.numRows;
      await sink.writeAll(collector.take());
      if (last) tick(progress);
    }
    if (snapshots.length === 0) writer.write(structBatch(schema, [], 0));
    writer.close();
    await sink.writeAll(collector.take());
    return rowsWritten;
  }

  const pw = await import('parquet-wasm');
  const it = batches();
  const source = new ReadableStream({
    pull(controller) {
      const next = it.next();
      if (next.done) {
        controller.close();
        return;
      }
      const { batch, last } = next.value;
      rowsWritten += batch.numRows;
      const table = pw.Table.fromIPCStream(tableToIPC(new Table([batch]), 'stream'));
      for (const b of table.recordBatches()) controller.enqueue(b);
      if (last) tick(progress);
    },
  });
  const props = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD)
    .setKeyValueMetadata(new Map([['gradscope:export', schema.metadata.get('gradscope:export')!]]))
    .build();
  const parquet = await pw.transformParquetStream(source, props);
  const rd = parquet.getReader();
  for (;;) {
    const { done, value } = await rd.read();
    if (done) break;
    await sink.write(value as Uint8Array);
  }
  return rowsWritten;
}

function resolveFormatLayout(
  format: unknown,
  layout: unknown,
  outExt?: string,
): { format: ExportFormat; layout: ExportLayout } {
  const f = format ?? (outExt === '.parquet' ? 'parquet' : 'arrow');
  if (f !== 'arrow' && f !== 'parquet')
    throw invalid(`format must be 'arrow' or 'parquet', got ${JSON.stringify(format)}`);
  const l = layout ?? (f === 'parquet' ? 'long' : 'tensor');
  if (l !== 'tensor' && l !== 'long')
    throw invalid(`layout must be 'tensor' or 'long', got ${JSON.stringify(layout)}`);
  if (f === 'parquet' && l !== 'long') {
    throw invalid(
      `Parquet exports use the long layout (one row per value); use format 'arrow' for the tensor layout`,
    );
  }
  return { format: f, layout: l };
}

function runIdOf(reader: Reader, run: unknown): string {
  if (typeof run !== 'string' || run === '')
    throw invalid(`run must be a run id or name, got ${JSON.stringify(run)}`);
  const details = reader.getRun(run);
  if (!details)
    throw new StoreError('ENOTFOUND', `${reader.path}: no run with id or name ${JSON.stringify(run)}`, {
      file: reader.path,
    });
  return details.id;
}

function describeSelection(s: ExportSelection): string {
  const bits = [`run ${JSON.stringify(s.run)}`];
  if (s.layer !== undefined) bits.push(`layer ${JSON.stringify(s.layer)}`);
  if (s.kind !== undefined) bits.push(`kind ${s.kind}`);
  if (s.part !== undefined) bits.push(`part ${JSON.stringify(s.part)}`);
  if (s.iterations !== undefined) bits.push(`iterations ${s.iterations.join(',')}`);
  return bits.join(', ');
}

function selectGroups(
  reader: Reader,
  selection: ExportSelection,
  layout: ExportLayout,
): { runId: string; groups: ExportGroup[] } {
  const runId = runIdOf(reader, selection.run);
  const groups = exportGroups(reader, { ...selection, run: runId }, layout);
  if (groups.length === 0) {
    throw new StoreError('ENOTFOUND', `${reader.path}: no snapshots match ${describeSelection(selection)}`, {
      file: reader.path,
    });
  }
  return { runId, groups };
}

function oneTensorGroup(groups: ExportGroup[], what: string): ExportGroup {
  if (groups.length === 1) return groups[0]!;
  const names = groups.map(
    (g) => `${g.layer}/${g.kind}${g.part ? `/${g.part}` : ''}${g.shape ? ` [${g.shape.join('x')}]` : ''}`,
  );
  throw invalid(
    `the tensor layout puts one (layer, kind, part, shape) group in ${what}, but the selection has ${groups.length}: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}; pick one with layer/kind, export to a directory, or use the long layout`,
  );
}

/**
 * Writes one export file's bytes to a Node Writable (the stream is ended when done). The tensor layout
 * needs the selection to be one (layer, kind, part, shape) group; the long layout takes any selection.
 */
export async function exportRunToStream(
  reader: Reader,
  options: StreamExportOptions,
  out: Writable,
): Promise<{ rows: number; snapshots: number; bytes: number }> {
  const { format, layout } = resolveFormatLayout(options.format, options.layout);
  const { runId, groups } = selectGroups(reader, options, layout);
  const sink = new Sink(out);
  const total = groups.reduce((a, g) => a + g.snapshots.length, 0);
  const progress: Progress = { done: 0, total, file: '<stream>', cb: options.onProgress };
  const ipc = options.ipc ?? 'file';
  let rows: number;
  if (layout === 'tensor') {
    rows = await writeTensorGroup(reader, runId, oneTensorGroup(groups, 'a stream'), sink, ipc, progress);
  } else {
    rows = await writeLong(reader, runId, groups, sink, format, ipc, progress);
  }
  out.end();
  await finished(out);
  return { rows, snapshots: total, bytes: sink.bytes };
}

async function toFile(
  path: string,
  body: (sink: Sink) => Promise<number>,
): Promise<{ rows: number; bytes: number }> {
  const tmp = `${path}.partial-${process.pid}`;
  const stream = createWriteStream(tmp);
  const opened = once(stream, 'open');
  try {
    await opened;
  } catch (err) {
    throw new StoreError('EPATH', `cannot write export file ${path}: ${(err as Error).message}`, {
      file: path,
      cause: err,
    });
  }
  const sink = new Sink(stream);
  try {
    const rows = await body(sink);
    stream.end();
    await finished(stream);
    renameSync(tmp, path);
    return { rows, bytes: sink.bytes };
  } catch (err) {
    stream.destroy();
    rmSync(tmp, { force: true });
    if (err instanceof StoreError) throw err;
    throw new StoreError('EIO', `writing export file ${path} failed: ${(err as Error).message}`, {
      file: path,
      cause: err,
    });
  }
}

/**
 * Exports the selected snapshots of a run. A single-file `out` (.arrow/.arrows/.feather/.ipc/.parquet) gets
 * one file; any other `out` is a directory with one file per group, named `<layer>__<kind>[__<part>].<ext>`
 * (characters outside [A-Za-z0-9._-] replaced by '_'). Files appear atomically (written aside, then renamed).
 */
export async function exportRun(reader: Reader, options: ExportOptions): Promise<ExportResult> {
  if (typeof options.out !== 'string' || options.out.trim() === '') {
    throw invalid(`out must be a file or directory path, got ${JSON.stringify(options.out)}`);
  }
  const out = resolve(options.out);
  const ext = extname(out).toLowerCase();
  const single = SINGLE_FILE_EXT.has(ext);
  const { format, layout } = resolveFormatLayout(options.format, options.layout, single ? ext : undefined);
  if (single && (ext === '.parquet') !== (format === 'parquet')) {
    throw invalid(`out ${out} has extension ${ext}, which does not match format '${format}'`);
  }
  const { runId, groups } = selectGroups(reader, options, layout);
  const total = groups.reduce((a, g) => a + g.snapshots.length, 0);
  const progress: Progress = { done: 0, total, file: out, cb: options.onProgress };
  const ipc: 'file' | 'stream' = ext === '.arrows' ? 'stream' : 'file';
  const files: ExportedFile[] = [];

  if (single) {
    const st = statSync(out, { throwIfNoEntry: false });
    if (st?.isDirectory())
      throw invalid(`out ${out} is a directory; give a file name or a directory without a file extension`);
    const r =
      layout === 'tensor'
        ? await toFile(out, (sink) =>
            writeTensorGroup(reader, runId, oneTensorGroup(groups, 'one file'), sink, ipc, progress),
          )
        : await toFile(out, (sink) => writeLong(reader, runId, groups, sink, format, ipc, progress));
    files.push({ path: out, rows: r.rows, snapshots: total, bytes: r.bytes });
    return { files, snapshots: total, rows: r.rows };
  }

  const st = statSync(out, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw invalid(`out ${out} exists and is not a directory`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (err) {
    throw new StoreError('EPATH', `cannot create export directory ${out}: ${(err as Error).message}`, {
      file: out,
      cause: err,
    });
  }
  const fileExt = format === 'parquet' ? '.parquet' : '.arrow';
  let rows = 0;
  for (const g of groups) {
    const path = join(out, `${g.name}${fileExt}`);
    progress.file = path;
    const r =
      layout === 'tensor'
        ? await toFile(path, (sink) => writeTensorGroup(reader, runId, g, sink, 'file', progress))
        : await toFile(path, (sink) => writeLong(reader, runId, [g], sink, format, 'file', progress));
    files.push({ path, rows: r.rows, snapshots: g.snapshots.length, bytes: r.bytes });
    rows += r.rows;
  }
  return { files, snapshots: total, rows };
}
