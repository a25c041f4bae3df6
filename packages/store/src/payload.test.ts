import { describe, expect, it } from 'vitest';
import { encodePayload, payloadValues, templateBytes } from './payload.js';
import { decodeTensor, encodeTensor } from './tensor.js';
import type { SnapshotMeta } from './types.js';

function meta(iteration: number, loss: number, extra: Partial<SnapshotMeta> = {}): SnapshotMeta {
  return {
    run: 'run-ü',
    iteration,
    epoch: 0,
    batch: iteration,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind: 'output-grad',
    loss,
    time: 1_700_000_000_000 + iteration,
    nonFinite: 0,
    ...extra,
  };
}

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i * 0.37 + seed) * 10 ** -(i % 5);
  return out;
}

describe('encodePayload', () => {
  it('is byte for byte encodeTensor, from its template too, whatever the metadata length', () => {
    const cases: [number[], string[]][] = [
      [
        [16, 50, 8],
        ['sample', 'timestep', 'channel'],
      ],
      [[3], ['channel']], // 12 bytes: the body is padded to 8
      [
        [2, 3, 5],
        ['sample', 'timestep', 'channel'],
      ],
      [
        [0, 4],
        ['sample', 'channel'],
      ],
    ];
    for (const [shape, dims] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      let templated = 0;
      for (let i = 0; i < 40; i++) {
        const data = values(n, i);
        const m = meta(i, i % 3 === 0 ? Number.NaN : 1 / (i + 1), i % 7 === 0 ? { part: 'forward' } : {});
        const { ipc, dataOffset } = encodePayload(data, shape, dims, m);
        expect(Buffer.from(ipc).equals(Buffer.from(encodeTensor(data, shape, dims, m)))).toBe(true);
        if (dataOffset >= 0) {
          templated++;
          expect(Array.from(payloadValues(ipc, dataOffset, n)!)).toEqual(Array.from(data));
        }
        const decoded = decodeTensor(ipc);
        expect(decoded.shape).toEqual(shape);
        expect(Array.from(decoded.data)).toEqual(Array.from(data));
      }
      expect(templated).toBe(40);
    }
  });

  it('keeps the bytes around the values as a template, not the values (a 16 MB payload: < 2 KB kept)', () => {
    const before = templateBytes();
    const shape = [4, 1000, 1024];
    const dims = ['sample', 'timestep', 'channel'];
    const data = values(4 * 1000 * 1024, 7);
    const first = encodePayload(data, shape, dims, meta(1, 0.25, { layer: 'big_template' }));
    const kept = templateBytes() - before;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(2048);
    expect(first.ipc.byteLength).toBeGreaterThan(data.byteLength);
    // The next payload of the kind comes from the template, byte for byte what Arrow writes.
    const next = values(4 * 1000 * 1024, 8);
    const m = meta(2, 0.75, { layer: 'big_template' }); // metadata of the same byte length: one template
    const made = encodePayload(next, shape, dims, m);
    expect(made.dataOffset).toBeGreaterThan(0);
    expect(Buffer.from(made.ipc).equals(Buffer.from(encodeTensor(next, shape, dims, m)))).toBe(true);
    expect(templateBytes() - before).toBe(kept);
  });

  it('writes into memory from the allocator, overwriting what was there', () => {
    const data = values(400, 1);
    const m = meta(3, 0.25);
    const expected = Buffer.from(encodeTensor(data, [4, 100], ['sample', 'channel'], m));
    const dirty = new Uint8Array(expected.byteLength).fill(0xab);
    const { ipc } = encodePayload(data, [4, 100], ['sample', 'channel'], m, () => dirty);
    expect(ipc).toBe(dirty);
    expect(Buffer.from(ipc).equals(expected)).toBe(true);
    // A second time, from the template, into dirty memory again.
    dirty.fill(0xcd);
    const again = encodePayload(data, [4, 100], ['sample', 'channel'], m, () => dirty);
    expect(again.dataOffset).toBeGreaterThan(0);
    expect(Buffer.from(again.ipc).equals(expected)).toBe(true);
  });

  it('payloadValues refuses an unknown or out-of-range offset', () => {
    const ipc = new Uint8Array(64);
    expect(payloadValues(ipc, -1, 4)).toBeUndefined();
    expect(payloadValues(ipc, 2, 4)).toBeUndefined();
    expect(payloadValues(ipc, 56, 4)).toBeUndefined();
    expect(payloadValues(ipc, 48, 4)?.length).toBe(4);
  });
});
