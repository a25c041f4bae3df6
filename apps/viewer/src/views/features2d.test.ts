import { describe, expect, it } from 'vitest';
import { AUTO_ALL_SAMPLES, AUTO_TOP_SAMPLES } from '../state';
import type { Cube } from '../tensor';
import { largestSamples, meanAbsCube, samplePlan } from './features2d';

/** S samples × 2 timesteps × 2 channels, value(s, t, c) given. */
function cube(S: number, value: (s: number, t: number, c: number) => number): Cube {
  const data = new Float32Array(S * 4);
  for (let s = 0; s < S; s++)
    for (let t = 0; t < 2; t++) for (let c = 0; c < 2; c++) data[(s * 2 + t) * 2 + c] = value(s, t, c);
  return { data, samples: S, rows: 2, cols: 2, axes: ['sample', 'timestep', 'channel'], timeRows: true };
}
const whole = [{ colFrom: 0, colTo: 2, timeReversed: false }];

describe('2D samples of a large probe (issue 24)', () => {
  it('the mean |value| over samples, cell by cell', () => {
    const c = cube(3, (s, t, ch) => (s === 1 ? -1 : 1) * (s + 1) * (t * 2 + ch + 1));
    const m = meanAbsCube(c);
    expect(m.samples).toBe(1);
    // |1·v| + |−2·v| + |3·v| over 3 = 2·v, v = 1…4.
    expect(Array.from(m.data)).toEqual([2, 4, 6, 8]);
  });

  it('the samples with the largest norm over the compared iterations, largest first, ties to the lower index', () => {
    const a = cube(5, (s) => [1, 5, 2, 5, 0][s]!);
    const b = cube(5, (s) => (s === 4 ? 10 : 0));
    expect(largestSamples([a], whole, 2, 3)).toEqual([1, 3, 2]);
    // Summed over iterations: sample 4 (10² · 4 cells) beats 1 and 3 (5² · 4).
    expect(largestSamples([a, b], whole, 2, 2)).toEqual([4, 1]);
    // Only what is shown counts: the first timestep (rowCount 1) of a cube large at t = 1 for sample 0.
    const late = cube(2, (s, t) => (s === 0 && t === 1 ? 100 : s));
    expect(largestSamples([late], whole, 1, 1)).toEqual([1]);
    // A non-finite value does not make a sample the largest.
    const nan = cube(2, (s) => (s === 0 ? Number.NaN : 1));
    expect(largestSamples([nan], whole, 2, 1)).toEqual([1]);
  });

  it(`auto: every sample up to ${AUTO_ALL_SAMPLES}, beyond that the mean and the ${AUTO_TOP_SAMPLES} largest, said in words`, () => {
    const small = cube(AUTO_ALL_SAMPLES, () => 1);
    expect(samplePlan('auto', [small], whole, 2)).toEqual({
      mean: false,
      samples: Array.from({ length: AUTO_ALL_SAMPLES }, (_, i) => i),
      note: '',
    });
    const big = cube(64, (s) => (s === 40 ? 9 : s === 12 ? 8 : s === 7 ? 7 : 1));
    const plan = samplePlan('auto', [big], whole, 2);
    expect(plan.mean).toBe(true);
    expect(plan.samples).toEqual([40, 12, 7]);
    expect(plan.note).toContain('mean |value| over all 64');
    expect(plan.note).toContain('samples 40, 12, 7');
    // The user's choice is kept: all, one, a list.
    expect(samplePlan('all', [big], whole, 2).samples).toHaveLength(64);
    expect(samplePlan(5, [big], whole, 2)).toEqual({ mean: false, samples: [5], note: '' });
    expect(samplePlan([63, 2, 99], [big], whole, 2).samples).toEqual([63, 2]);
  });
});
