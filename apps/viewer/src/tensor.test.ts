import {
  Field,
  FixedSizeList,
  Float32,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { decodeTensor, difference, isZeroD, maxAbs, quantileAbs, toCube } from './tensor';

/** The server's payload: one row, a `tensor` column of arrow.fixed_shape_tensor (FixedSizeList<float32>). */
function payload(data: Float32Array, shape: number[], dims: string[]): Uint8Array {
  const type = new FixedSizeList(data.length, new Field('item', new Float32(), false));
  const list = makeData({ type, length: 1, nullCount: 0, child: makeData({ type: new Float32(), data }) });
  const field = new Field(
    'tensor',
    type,
    false,
    new Map([
      ['ARROW:extension:name', 'arrow.fixed_shape_tensor'],
      ['ARROW:extension:metadata', JSON.stringify({ shape, dim_names: dims })],
    ]),
  );
  const schema = new Schema([field]);
  const struct = makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children: [list] });
  return tableToIPC(new Table([new RecordBatch(schema, struct)]), 'stream');
}

describe('decodeTensor', () => {
  const values = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 8 - 1);
  const bytes = payload(values, [2, 3, 4], ['sample', 'timestep', 'channel']);

  it('reads the float32 values as a typed-array view, with the shape from the index', () => {
    const t = decodeTensor(bytes, [2, 3, 4], ['sample', 'timestep', 'channel']);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect([...t.data]).toEqual([...values]);
    expect(t.shape).toEqual([2, 3, 4]);
  });

  it('does not copy: the values live in the payload buffer', () => {
    const t = decodeTensor(bytes, [2, 3, 4], ['sample', 'timestep', 'channel']);
    expect(t.data.buffer).toBe(bytes.buffer);
  });

  it('falls back to the extension metadata for shape and dims', () => {
    const t = decodeTensor(bytes.slice().buffer);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.dims).toEqual(['sample', 'timestep', 'channel']);
  });

  it('refuses a shape that does not match the values', () => {
    expect(() => decodeTensor(bytes, [2, 3, 5], ['a', 'b', 'c'])).toThrow(
      /holds 24 values, its shape \[2,3,5\] needs 30/,
    );
  });
});

describe('cubes', () => {
  const data = new Float32Array(24);
  it('fold a layer output into sample × timestep × channel', () => {
    expect(toCube({ data, shape: [2, 3, 4], dims: ['sample', 'timestep', 'channel'] })).toMatchObject({
      samples: 2,
      rows: 3,
      cols: 4,
      timeRows: true,
      axes: ['sample', 'timestep', 'channel'],
    });
  });

  it('treat (sample, channel) as one row per sample: the 0D case', () => {
    expect(isZeroD(['sample', 'channel'])).toBe(true);
    expect(isZeroD(['input', 'unit'])).toBe(false);
    expect(toCube({ data, shape: [6, 4], dims: ['sample', 'channel'] })).toMatchObject({
      samples: 6,
      rows: 1,
      cols: 4,
    });
  });

  it('show a weight matrix as one sample of input × unit', () => {
    expect(toCube({ data, shape: [6, 4], dims: ['input', 'unit'] })).toMatchObject({
      samples: 1,
      rows: 6,
      cols: 4,
      timeRows: false,
      axes: ['sample', 'input', 'unit'],
    });
    expect(toCube({ data, shape: [24], dims: ['unit'] })).toMatchObject({ samples: 1, rows: 1, cols: 24 });
  });
});

describe('value helpers', () => {
  it('maxAbs ignores non-finite values', () => {
    expect(
      maxAbs([new Float32Array([1, -3, Number.NaN]), new Float32Array([Number.NEGATIVE_INFINITY, 2])]),
    ).toBe(3);
    expect(maxAbs([])).toBe(0);
  });

  it('quantileAbs finds the 99th percentile of |v|', () => {
    const a = Float32Array.from({ length: 1000 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1));
    expect(quantileAbs([a], 0.99)).toBe(990);
    expect(quantileAbs([a], 1)).toBe(1000);
    expect(quantileAbs([new Float32Array([Number.NaN])], 0.5)).toBe(0);
  });

  it('difference subtracts element-wise and refuses other shapes', () => {
    expect([...difference(new Float32Array([3, 2]), new Float32Array([1, 5]))]).toEqual([2, -3]);
    expect(() => difference(new Float32Array(2), new Float32Array(3))).toThrow(/2 and 3 values/);
  });
});
