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
    s.nonFinite = 2;
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

  it('counts the NaNs a tensor holds: a snapshot saying 0 of 8 is refused, one saying 8 is kept', () => {
    const s = snapshot();
    for (let i = 0; i < 8; i++) s.data[i * 3] = i % 2 ? Number.NaN : Number.NEGATIVE_INFINITY;
    expect(() => decodeSnapshot(encodeSnapshot({ ...s, nonFinite: 0 }))).toThrow(
      "'nonFinite' must be the number of NaN and ±Infinity values in the tensor, 8, got 0",
    );
    expect(decodeSnapshot(encodeSnapshot({ ...s, nonFinite: 8 })).nonFinite).toBe(8);
  });

  it('refuses shapes, dims and channelParts that disagree, 0-d and 1-d included', () => {
    const at = (shape: number[], dims: string[], channelParts?: string[]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const s = snapshot({ shape, dims, data: new Float32Array(n), channelParts });
      if (channelParts === undefined) delete s.channelParts;
      return () => decodeSnapshot(encodeSnapshot(s), 'body');
    };
    expect(at([], [], ['a', 'b'])).toThrow(
      "body: 'channelParts' split the last axis, but shape [] has no axis (a 0-d tensor)",
    );
    expect(at([], [])().shape).toEqual([]);
    expect(at([3], ['channel'], ['a', 'b'])).toThrow(
      'must split the last axis evenly, but shape [3] ends in 3',
    );
    expect(at([4], ['channel'], ['a', 'b'])().channelParts).toEqual(['a', 'b']);
    expect(at([0], ['channel'], ['a', 'b'])().data.length).toBe(0);
    expect(at([2, 2], ['x', 'x'])).toThrow('dim_names ["x","x"] must be distinct non-empty names');
    expect(at([2, 2], ['x', ''])).toThrow('must be distinct non-empty names');
    expect(at([2, 2], ['x'])).toThrow('dim_names ["x"] must name each of the 2 axes of shape [2, 2]');
    expect(at([2, 2], ['x', 7 as unknown as string])).toThrow(
      'dim_names must be absent or a list of strings, got ["x",7]',
    );
  });

  it('refuses snapshot metadata with a wrong field as EINVAL, naming the field', () => {
    const s = snapshot();
    const cases: [Partial<Record<keyof Snapshot, unknown>>, string][] = [
      [{ kind: 'gradient' }, `'kind' must be one of ${KINDS.join(', ')}`],
      [{ iteration: -1 }, "'iteration' must be an integer from 0 to 2147483647, got -1"],
      [{ layer: '' }, "'layer' must be a non-empty string"],
      // Ranges: the exports' int32 columns, the latest JavaScript Date.
      [{ iteration: 1e300 }, "'iteration' must be an integer from 0 to 2147483647, got 1e+300"],
      [
        { iteration: 2 ** 53 + 2 },
        "'iteration' must be an integer from 0 to 2147483647, got 9007199254740994",
      ],
      [{ epoch: 2 ** 31 }, "'epoch' must be an integer from 0 to 2147483647, got 2147483648"],
      [{ batch: 0.5 }, "'batch' must be an integer from 0 to 2147483647, got 0.5"],
      [{ time: -1 }, "'time' must be ms since the epoch, from 0 to 8640000000000000, got -1"],
      [{ time: 1e300 }, "'time' must be ms since the epoch"],
      [{ time: null }, "'time' must be ms since the epoch"],
      // nonFinite is counted, not trusted: the fixture's values are all finite.
      [
        { nonFinite: 1e12 },
        "'nonFinite' must be the number of NaN and ±Infinity values in the tensor, 0, got 1000000000000",
      ],
      [
        { nonFinite: 1 },
        "'nonFinite' must be the number of NaN and ±Infinity values in the tensor, 0, got 1",
      ],
      [{ part: '' }, "'part' must be a non-empty string, null or absent"],
      [{ part: 3 }, "'part' must be a non-empty string, null or absent, got 3"],
      [{ channelParts: 'forward' }, '\'channelParts\' must be distinct non-empty names, got "forward"'],
      [{ channelParts: ['a', 'a'] }, "'channelParts' must be distinct non-empty names"],
      [
        { channelParts: ['a', 'b', 'c'] },
        '\'channelParts\' ["a","b","c"] must split the last axis evenly, but shape [2, 3, 4] ends in 4',
      ],
      [{ loss: 'x' }, "'loss' must be a number or null"],
      [{ extra: 1 } as Partial<Record<keyof Snapshot, unknown>>, 'unknown snapshot field "extra"'],
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
