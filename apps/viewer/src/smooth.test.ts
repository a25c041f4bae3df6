import { describe, expect, it } from 'vitest';
import { DEFAULT_SMOOTHING, smoothEma } from './smooth';

/** The debiased EMA written out directly: a weighted mean of the points so far, weight w^(n−k). */
function direct(values: number[], w: number): number[] {
  return values.map((_, n) => {
    let num = 0;
    let den = 0;
    for (let k = 0; k <= n; k++) {
      if (!Number.isFinite(values[k]!)) continue;
      // The k-th finite point's weight is w^(number of finite points after it up to n).
      const after = values.slice(k + 1, n + 1).filter(Number.isFinite).length;
      num += w ** after * values[k]!;
      den += w ** after;
    }
    return Number.isFinite(values[n]!) ? num / den : values[n]!;
  });
}

describe('smoothEma (TensorBoard smoothing)', () => {
  const noisy = Array.from({ length: 200 }, (_, i) => Math.exp(-i / 50) + 0.1 * Math.sin(i * 1.7));

  it.each([0.3, DEFAULT_SMOOTHING, 0.9, 0.99])(
    'equals the weighted mean of the points so far (w = %s)',
    (w) => {
      const got = smoothEma(noisy, w);
      const want = direct(noisy, w);
      for (let i = 0; i < noisy.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 10);
    },
  );

  it('is not pulled towards 0 at the start (debiased): the first point is kept', () => {
    expect(smoothEma([5, 5.5, 6], 0.9)[0]).toBe(5);
    expect(smoothEma([5, 7], 0.5)[1]).toBeCloseTo((0.5 * 5 + 7) / 1.5, 12);
  });

  it('passes NaN and Infinity through and leaves them out of the average', () => {
    const values = [1, Number.NaN, 3, Number.POSITIVE_INFINITY, 5];
    const got = Array.from(smoothEma(values, 0.6));
    const want = direct(values, 0.6);
    expect(got[1]).toBeNaN();
    expect(got[3]).toBe(Number.POSITIVE_INFINITY);
    for (const i of [0, 2, 4]) expect(got[i]).toBeCloseTo(want[i]!, 12);
  });

  it('weight 0 and constant series are returned as they are', () => {
    expect(Array.from(smoothEma([3, 1, 2], 0))).toEqual([3, 1, 2]);
    expect(Array.from(smoothEma([0.1, 0.1, 0.1], 0.9))).toEqual([0.1, 0.1, 0.1]);
    expect(Array.from(smoothEma([], 0.9))).toEqual([]);
  });
});
