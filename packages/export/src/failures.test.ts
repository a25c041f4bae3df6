// An export never loses a value quietly (issue 23): a failing batch source fails the Parquet file rather
// than ending it early, a failed file leaves no stray 'error' event (the CLI printed a Node stack), a client
// gone mid-download ends the write, and snapshots whose channel parts cannot split their shape still export
// every value.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { SnapshotInfo } from '@gradscope/format';
import type { Reader } from '@gradscope/store';
import { Field, Float32, Schema, tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { ByteSink } from './byte-sink.js';
import { float64Data, structBatch } from './columns.js';
import { writeAtomically } from './file-output.js';
import { type BatchSource, longBatches, writeArrowBatches } from './long-layout.js';
import { writeParquet } from './parquet.js';
import { tempDir } from './test-util/fixtures.js';
import type { ExportGroup } from './types.js';

/** A source of `good` one-row batches, then a failure. */
function failingSource(good: number): BatchSource {
  const schema = new Schema([new Field('value', new Float32(), false)]);
  return {
    schema,
    async *batches() {
      for (let i = 0; i < good; i++) {
        const data = float64Data(Float64Array.of(i));
        yield {
          batch: structBatch(new Schema([new Field('value', data.type, false)]), [data], 1),
          last: true,
        };
      }
      throw new TypeError('snapshot 7 cannot be read');
    },
  };
}

function collect(): { sink: ByteSink; out: PassThrough; bytes: () => number } {
  const out = new PassThrough();
  let n = 0;
  out.on('data', (c: Buffer) => {
    n += c.length;
  });
  return { sink: new ByteSink(out), out, bytes: () => n };
}

describe('export failures', () => {
  it('Parquet: a batch source that fails is an error, not a file short of its rows', async () => {
    const { sink } = collect();
    let ticks = 0;
    await expect(writeParquet(failingSource(3), sink, () => ticks++)).rejects.toThrow(
      'snapshot 7 cannot be read',
    );
    expect(ticks).toBe(3);
  });

  it('a file whose writing fails is removed, its queued writes failing without an unhandled error event', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'out.arrow');
      await expect(
        writeAtomically(path, async (sink) => {
          // Writes still queued on the file when the body fails.
          for (let i = 0; i < 8; i++) void sink.write(new Uint8Array(1 << 20)).catch(() => {});
          throw new TypeError('the layout failed');
        }),
      ).rejects.toThrow(`writing export file ${path} failed: the layout failed`);
      // Let the destroyed stream's queued writes fail (they used to be an unhandled 'error' event).
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      cleanup();
    }
  });

  it('a Writable closed mid-export (a client gone) ends the write instead of waiting for drain forever', async () => {
    const out = new Writable({ highWaterMark: 16, write: () => {} }); // never calls back: never drains
    const sink = new ByteSink(out);
    const pending = sink.write(new Uint8Array(1024));
    out.destroy();
    await expect(pending).rejects.toThrow('the export output was closed before the end');
    await expect(sink.write(new Uint8Array(1))).rejects.toThrow();
  }, 5_000);

  it('the long layout keeps every value of snapshots whose channel parts cannot split their shape', async () => {
    const info = (id: number, shape: number[], dims: string[], channelParts: string[] | null) =>
      ({
        id,
        run: 'r',
        iteration: id,
        epoch: 0,
        batch: 0,
        layer: 'l',
        layerClass: 'X',
        kind: 'output-grad',
        part: null,
        channelParts,
        shape,
        dims,
        loss: 1,
        time: 0,
        nonFinite: 0,
        payloadBytes: 0,
      }) as unknown as SnapshotInfo;
    const snapshots = [
      info(1, [], [], ['a', 'b']), // 0-d: no last axis (ingest refuses it; older files may hold it)
      info(2, [3], ['channel'], ['a', 'b']), // 3 channels do not split in two
      info(3, [4], ['channel'], ['a', 'b']),
      // dims named like fixed columns, and like what those become.
      info(4, [2, 2], ['loss', 'dim_loss'], null),
    ];
    const values = new Map(
      snapshots.map((s) => [
        s.id,
        Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, (_, i) => s.id * 10 + i),
      ]),
    );
    const reader = {
      readTensor: (id: number) => ({ shape: [], dims: [], data: values.get(id)! }),
    } as unknown as Reader;
    const group: ExportGroup = {
      layer: 'l',
      kind: 'output-grad',
      part: null,
      shape: null,
      dims: ['channel', 'loss', 'dim_loss'],
      snapshots,
      name: 'l',
    };
    const { sink, out } = collect();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const rows = await writeArrowBatches(
      longBatches(reader, { id: 'r', name: 'run r' }, [group], false),
      sink,
      'stream',
      () => {},
    );
    out.end();
    expect(rows).toBe(1 + 3 + 4 + 4);
    const table = tableFromIPC(Buffer.concat(chunks));
    expect(table.schema.fields.map((f) => f.name)).toEqual([
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
      'channel',
      'dim_loss',
      'dim_loss_2',
      'value',
    ]);
    const rowsOut = table.toArray().map((r) => r.toJSON());
    expect(rowsOut.map((r) => r.value)).toEqual([10, 20, 21, 22, 30, 31, 32, 33, 40, 41, 42, 43]);
    expect(rowsOut.map((r) => r.channel_part)).toEqual([
      null,
      null,
      null,
      null,
      'a',
      'a',
      'b',
      'b',
      null,
      null,
      null,
      null,
    ]);
    expect(rowsOut.slice(8).map((r) => [r.dim_loss, r.dim_loss_2])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
  });
});
