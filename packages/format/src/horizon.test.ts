import { describe, expect, it } from 'vitest';
import { memoryHorizon } from './horizon.js';

describe('memoryHorizon', () => {
  it('is the earliest timestep at or above 1% of the largest norm, and norm(0) / max', () => {
    // max 10 at t = 4; 1% of it is 0.1: t = 2 (0.1) is the first that reaches it.
    expect(memoryHorizon(Float32Array.of(0.001, 0.05, 0.1, 3, 10))).toEqual({
      horizon: 2,
      t0Ratio: Math.fround(0.001) / 10,
    });
    expect(memoryHorizon([4, 1, 2])).toEqual({ horizon: 0, t0Ratio: 1 });
  });

  it('is null without a time axis or when every norm is 0, and skips non-finite norms', () => {
    expect(memoryHorizon(null)).toEqual({ horizon: null, t0Ratio: null });
    expect(memoryHorizon([])).toEqual({ horizon: null, t0Ratio: null });
    expect(memoryHorizon([0, 0, 0])).toEqual({ horizon: null, t0Ratio: null });
    expect(memoryHorizon([Number.NaN, 0.5, Number.POSITIVE_INFINITY, 2])).toEqual({
      horizon: 1,
      t0Ratio: null,
    });
  });
});
