// Tensor layout: one row per snapshot (run, iteration, epoch, batch, loss) with the tensor in one
// `arrow.fixed_shape_tensor` cell; the rows reuse the stored float32 buffers (no per-value work).

import type { SnapshotInfo } from '@gradscope/format';
import { collectingWriter, product, tensorData, tensorField } from '@gradscope/format';
import type { RunReader } from '@gradscope/store';
import { Field, Float64, Int32, Schema, Utf8, vectorFromArray } from 'apache-arrow';
import type { ByteSink } from './byte-sink.js';
import { EXPORT_METADATA_KEY, float64Data, int32Data, newIpcWriter, structBatch } from './columns.js';
import type { ExportGroup, ExportRun } from './types.js';

/**
 * Values per record batch when small tensors share one (they are copied into it)… A tensor this large or
 * larger is a batch of its own, its stored buffer written as it is: no large copy is ever made (a 16 MB one
 * per batch left a server's allocator holding ~100 MB after an export).
 */
const VALUES_PER_BATCH = 1 << 14;
/** …and at most this many rows. */
const ROWS_PER_BATCH = 1024;

/** Writes one group (one shape) as one Arrow IPC file or stream; resolves to the rows written. */
export async function writeTensorGroup(
  reader: RunReader,
  run: ExportRun,
  group: ExportGroup,
  sink: ByteSink,
  ipc: 'file' | 'stream',
  tick: () => void,
): Promise<number> {
  const shape = group.shape!;
  const size = product(shape);
  const tensor = tensorField('tensor', shape, group.dims);
  const schema = new Schema(
    [
      // The run by its name (what a user calls it; reruns share it) and by its id (unique).
      new Field('run', new Utf8(), false),
      new Field('run_id', new Utf8(), false),
      new Field('iteration', new Int32(), false),
      new Field('epoch', new Int32(), false),
      new Field('batch', new Int32(), false),
      new Field('loss', new Float64(), false),
      tensor,
    ],
    new Map([
      [
        EXPORT_METADATA_KEY,
        JSON.stringify({
          layout: 'tensor',
          run: run.name,
          run_id: run.id,
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
          rows.map(() => run.name),
          new Utf8(),
        ).data[0]!,
        vectorFromArray(
          rows.map(() => run.id),
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
    if (rows.length > 0 && pendingValues + size > VALUES_PER_BATCH) await emit();
    rows.push(s);
    values.push((await reader.readTensor(s.id)).data);
    pendingValues += size;
    if (pendingValues >= VALUES_PER_BATCH || rows.length >= ROWS_PER_BATCH) await emit();
    tick();
  }
  await emit();
  if (group.snapshots.length === 0) writer.write(structBatch(schema, [], 0));
  writer.close();
  await sink.writeAll(collector.take());
  return group.snapshots.length;
}
