// Parquet output through parquet-wasm (arrow-rs compiled to WebAssembly, no native build): record batches
// are streamed in and Parquet bytes come out row group by row group, so any export runs in bounded memory.
import { Table, tableToIPC } from 'apache-arrow';
import type { ByteSink } from './byte-sink.js';
import { EXPORT_METADATA_KEY, PARQUET_ROW_GROUP_ROWS } from './columns.js';
import type { BatchSource } from './long-layout.js';

/**
 * Writes a batch source (plain Utf8 strings: the streaming writer rejects dictionary columns) as one
 * zstd-compressed Parquet file, keeping the schema's export metadata; `tick` after each snapshot.
 */
export async function writeParquet(source: BatchSource, sink: ByteSink, tick: () => void): Promise<number> {
  const pw = await import('parquet-wasm');
  const it = source.batches();
  let rows = 0;
  // parquet-wasm ends its output normally when its input stream fails: the file would lack the rows from
  // the failure on. The failure is kept and thrown once the output is drained.
  let failed: { error: unknown } | undefined;
  const batches = new ReadableStream({
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) {
          controller.close();
          return;
        }
        const { batch, last } = next.value;
        const table = pw.Table.fromIPCStream(tableToIPC(new Table([batch]), 'stream'));
        for (const b of table.recordBatches()) controller.enqueue(b);
        // The batches are handed over; the table's copy in WebAssembly memory is not waited on for GC.
        table.free();
        rows += batch.numRows;
        if (last) tick();
      } catch (error) {
        failed = { error };
        controller.error(error);
      }
    },
  });
  const meta = source.schema.metadata.get(EXPORT_METADATA_KEY);
  const props = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD)
    // The writer holds a row group in WebAssembly memory until it is flushed, and that memory never shrinks:
    // small row groups bound it (a million-row group grew a server by ~180 MB for good).
    .setMaxRowGroupSize(PARQUET_ROW_GROUP_ROWS)
    .setKeyValueMetadata(new Map(meta === undefined ? [] : [[EXPORT_METADATA_KEY, meta]]))
    .build();
  const parquet = (await pw.transformParquetStream(batches, props)).getReader();
  for (;;) {
    if (failed) break;
    const { done, value } = await parquet.read();
    if (done) break;
    await sink.write(value as Uint8Array);
  }
  if (failed) {
    await parquet.cancel().catch(() => {});
    throw failed.error;
  }
  return rows;
}
