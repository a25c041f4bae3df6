import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import {
  decodeTensor,
  encodeTensor,
  SNAPSHOT_METADATA_KEY,
  snapshotFromIpc,
  snapshotMeta,
} from './tensor.js';
import { bytesOf, snapshot, values } from './test-util/fixtures.js';

describe('Arrow tensor payload', () => {
  it('round-trips float32 bit-exactly (NaN payloads, -0, subnormals, ±Infinity) as arrow.fixed_shape_tensor', () => {
    const data = values(1, 2 * 3 * 5, { nonFinite: 6 });
    const u = new Uint32Array(data.buffer);
    u[3] = 0x7fc01234; // a NaN with a payload
    u[4] = 0x00000001; // the smallest subnormal
    const bytes = encodeTensor(data, [2, 3, 5], ['sample', 'timestep', 'channel']);
    const t = decodeTensor(bytes);
    expect(t.shape).toEqual([2, 3, 5]);
    expect(t.dims).toEqual(['sample', 'timestep', 'channel']);
    expect(bytesOf(t.data).equals(bytesOf(data))).toBe(true);

    // What any Arrow reader sees: one row, a FixedSizeList<float32>[30] column with the extension metadata.
    const table = tableFromIPC(bytes);
    expect(table.numRows).toBe(1);
    const field = table.schema.fields[0]!;
    expect(field.name).toBe('tensor');
    expect(field.metadata.get('ARROW:extension:name')).toBe('arrow.fixed_shape_tensor');
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!)).toEqual({
      shape: [2, 3, 5],
      dim_names: ['sample', 'timestep', 'channel'],
    });
    const viaArrow = table.getChild('tensor')!.data[0]!.children[0]!.values as Float32Array;
    expect(bytesOf(viaArrow).equals(bytesOf(data))).toBe(true);
  });

  it('decodes without copying: the values are a view into the payload bytes', () => {
    const bytes = encodeTensor(values(2, 64), [8, 8], ['sample', 'channel']);
    const t = decodeTensor(bytes);
    expect(t.data.buffer).toBe(bytes.buffer);
  });

  it('carries the snapshot fields as gradscope:snapshot metadata and rebuilds the Snapshot (remote ingest)', () => {
    const s = snapshot({ part: 'forward', channelParts: ['forward', 'backward'], iteration: 40 });
    const bytes = encodeTensor(s.data, s.shape, s.dims, snapshotMeta(s));
    const meta = JSON.parse(tableFromIPC(bytes).schema.metadata.get(SNAPSHOT_METADATA_KEY)!);
    expect(meta).toMatchObject({
      run: 'run-1',
      iteration: 40,
      layer: 'lstm_1',
      part: 'forward',
      kind: 'output-grad',
    });
    const back = snapshotFromIpc(bytes);
    expect({ ...back, data: undefined }).toEqual({ ...s, data: undefined });
    expect(bytesOf(back.data).equals(bytesOf(s.data))).toBe(true);
    expect(() => snapshotFromIpc(encodeTensor(s.data, s.shape, s.dims))).toThrow(
      /gradscope:snapshot.*missing/,
    );
  });

  it('rejects truncated or foreign bytes with ECORRUPT naming where they came from', () => {
    const bytes = encodeTensor(values(3, 1000), [10, 100], ['sample', 'channel']);
    for (const cut of [
      bytes.subarray(0, 20),
      bytes.subarray(0, bytes.length - 900),
      new Uint8Array(50).fill(7),
    ]) {
      let err: unknown;
      try {
        decodeTensor(cut, 'db.gradscope snapshot 9', 'db.gradscope');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('ECORRUPT');
      expect((err as StoreError).file).toBe('db.gradscope');
      expect((err as StoreError).message).toMatch(/^db\.gradscope snapshot 9: damaged tensor payload: /);
    }
  });
});
