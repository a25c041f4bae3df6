import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import {
  decodeSnapshot,
  decodeTensor,
  encodeSnapshot,
  encodeTensor,
  PayloadError,
  SNAPSHOT_METADATA_KEY,
  snapshotMeta,
} from './arrow.js';
import { KINDS } from './kinds.js';
import type { Snapshot } from './records.js';

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  const shape = [2, 3, 4];
  const data = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
  return {
    run: 'run-1',
    iteration: 120,
    epoch: 2,
    batch: 7,
    layer: 'bidi',
    layerClass: 'Bidirectional',
    kind: 'input-grad',
    channelParts: ['forward', 'backward'],
    shape,
    dims: ['sample', 'timestep', 'channel'],
    data,
    loss: 0.25,
    time: 1_700_000_000_000,
    nonFinite: 0,
    ...overrides,
  };
}

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe('the snapshot codec', () => {
  it('decodes what encodeSnapshot wrote: every field, the float32 bits exactly', () => {
    const s = snapshot({ part: 'forward' });
    const u = new Uint32Array(s.data.buffer);
    u[3] = 0x7fc01234; // a NaN with a payload
    u[4] = 0x00000001; // the smallest subnormal
    u[5] = 0x80000000; // -0
    u[6] = 0x7f800000; // +Infinity
    const back = decodeSnapshot(encodeSnapshot(s));
    expect(bits(back.data)).toEqual(bits(s.data));
    const { data: _a, ...rest } = back;
    const { data: _b, ...want } = s;
    expect(rest).toEqual(want);
  });

  it('round-trips every kind and a NaN loss (JSON null in the metadata)', () => {
    for (const kind of KINDS) {
      const back = decodeSnapshot(encodeSnapshot(snapshot({ kind, loss: Number.NaN })));
      expect(back.kind).toBe(kind);
      expect(back.loss).toBeNaN();
    }
  });

  it('hands back a view into the payload bytes, not a copy', () => {
    const bytes = encodeSnapshot(snapshot());
    const t = decodeTensor(bytes);
    expect(t.data.buffer).toBe(bytes.buffer);
    expect(t.meta).toEqual(snapshotMeta(snapshot()));
  });

  it('writes what other Arrow readers see as one arrow.fixed_shape_tensor row', () => {
    const s = snapshot();
    const table = tableFromIPC(encodeSnapshot(s));
    expect(table.numRows).toBe(1);
    const field = table.schema.fields[0]!;
    expect(field.name).toBe('tensor');
    expect(field.metadata.get('ARROW:extension:name')).toBe('arrow.fixed_shape_tensor');
    expect(JSON.parse(field.metadata.get('ARROW:extension:metadata')!)).toEqual({
      shape: [2, 3, 4],
      dim_names: ['sample', 'timestep', 'channel'],
    });
    expect(JSON.parse(table.schema.metadata.get(SNAPSHOT_METADATA_KEY)!).layer).toBe('bidi');
    const row = table.getChild('tensor')!.get(0)!;
    expect([...row.toArray()]).toEqual([...s.data]);
  });

  it('decodes a tensor without metadata, with axis names when dims are missing', () => {
    const t = decodeTensor(encodeTensor(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3], ['input', 'unit']));
    expect(t).toMatchObject({ shape: [2, 3], dims: ['input', 'unit'] });
    expect(t.meta).toBeUndefined();
    expect(() => decodeSnapshot(encodeTensor(Float32Array.of(1), [1], ['x']), 'body')).toThrow(
      "body: schema metadata 'gradscope:snapshot' is missing",
    );
  });

  it('reports truncated and foreign bytes as ECORRUPT naming where', () => {
    const bytes = encodeSnapshot(snapshot());
    for (const bad of [bytes.subarray(0, bytes.length - 40), bytes.subarray(0, 20), new Uint8Array(8)]) {
      let err: unknown;
      try {
        decodeTensor(bad, 'snapshot 7');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PayloadError);
      expect((err as PayloadError).code).toBe('ECORRUPT');
      expect((err as PayloadError).message).toMatch(/^snapshot 7: damaged tensor payload: /);
    }
  });

  it('refuses snapshot metadata with a wrong field as EINVAL, naming the field', () => {
    const s = snapshot();
    const cases: [Partial<Record<keyof Snapshot, unknown>>, string][] = [
      [{ kind: 'gradient' }, `'kind' must be one of ${KINDS.join(', ')}`],
      [{ iteration: -1 }, "'iteration' must be an integer >= 0"],
      [{ layer: '' }, "'layer' must be a non-empty string"],
    ];
    for (const [override, message] of cases) {
      const meta = { ...snapshotMeta(s), ...override } as unknown as ReturnType<typeof snapshotMeta>;
      const bytes = encodeTensor(s.data, s.shape, s.dims, meta);
      expect(() => decodeSnapshot(bytes, 'request body')).toThrow(`request body: ${message}`);
      try {
        decodeSnapshot(bytes);
      } catch (e) {
        expect((e as PayloadError).code).toBe('EINVAL');
      }
    }
  });
});
