// Band statistics against the direct formulas, written out here term by term.
import { describe, expect, it } from 'vitest';
import { bandColumns, bandEdges, bandPoint, curveBand, unionGrid, valueAt } from './bands';

describe('bandPoint', () => {
  it('mean, population standard deviation and range of the finite values', () => {
    const xs = [0.2, 0.5, 0.9, 1.4];
    const p = bandPoint([...xs, null, Number.NaN, Number.POSITIVE_INFINITY, undefined])!;
    const mean = (0.2 + 0.5 + 0.9 + 1.4) / 4;
    const std = Math.sqrt(
      ((0.2 - mean) ** 2 + (0.5 - mean) ** 2 + (0.9 - mean) ** 2 + (1.4 - mean) ** 2) / 4,
    );
    expect(p.n).toBe(4);
    expect(p.mean).toBeCloseTo(0.75, 14);
    expect(p.std).toBeCloseTo(std, 14);
    expect([p.min, p.max]).toEqual([0.2, 1.4]);
    expect(bandEdges(p, 'std')[0]).toBeCloseTo(mean - std, 14);
    expect(bandEdges(p, 'std')[1]).toBeCloseTo(mean + std, 14);
    expect(bandEdges(p, 'minmax')).toEqual([0.2, 1.4]);
    expect(bandPoint([null, Number.NaN])).toBeNull();
    expect(bandPoint([3])).toEqual({ n: 1, mean: 3, std: 0, min: 3, max: 3 });
  });
});

describe('valueAt and curveBand', () => {
  const a = { x: [0, 10, 20], y: [1, 3, 7] };
  const b = { x: [0, 20], y: [5, 1] };
  const c = { x: [10, 30], y: [2, Number.NaN] };

  it('reads a curve at its own x, linearly between them, and nowhere outside its range', () => {
    expect(valueAt(a, 10)).toBe(3);
    expect(valueAt(a, 15)).toBe(5);
    expect(valueAt(b, 5)).toBe(4);
    expect(valueAt(a, 21)).toBeNull();
    expect(valueAt(a, -1)).toBeNull();
    // Next to a non-finite value there is nothing to interpolate.
    expect(valueAt(c, 20)).toBeNull();
    expect(valueAt(c, 10)).toBe(2);
  });

  it('bands the runs on the union of their x', () => {
    const grid = unionGrid([a, b, c]);
    expect(grid).toEqual([0, 10, 20, 30]);
    const band = curveBand([a, b, c], grid);
    // x = 0: a 1, b 5; x = 10: a 3, b 3, c 2; x = 20: a 7, b 1 (c is NaN there); x = 30: none finite.
    expect(band[0]).toEqual({ n: 2, mean: 3, std: 2, min: 1, max: 5 });
    expect(band[1]!.n).toBe(3);
    expect(band[1]!.mean).toBeCloseTo(8 / 3, 14);
    expect(band[1]!.std).toBeCloseTo(Math.sqrt(((3 - 8 / 3) ** 2 * 2 + (2 - 8 / 3) ** 2) / 3), 14);
    expect(band[2]).toEqual({ n: 2, mean: 4, std: 3, min: 1, max: 7 });
    expect(band[3]).toBeNull();
    // Many points: evenly through the union, first and last kept.
    const long = { x: Array.from({ length: 1000 }, (_, i) => i), y: new Array(1000).fill(1) };
    const g = unionGrid([long], 11);
    expect(g).toEqual([0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999]);
  });

  it('columns for a chart: on a log axis an edge at or below 0 is drawn from the smallest value', () => {
    const p = bandPoint([0.1, 1, 10])!;
    const cols = bandColumns([p, null], 'std', true);
    expect(cols.mean).toEqual([p.mean, null]);
    expect(p.mean - p.std).toBeLessThan(0);
    expect(cols.lo).toEqual([0.1, null]);
    expect(cols.hi[0]).toBeCloseTo(p.mean + p.std, 14);
    expect(cols.n).toEqual([3, null]);
    expect(bandColumns([p], 'minmax', false)).toEqual({ mean: [p.mean], lo: [0.1], hi: [10], n: [3] });
  });
});
