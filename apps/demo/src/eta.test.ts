import { describe, expect, it } from 'vitest';
import { Eta, etaSeconds } from './eta.js';

describe('the demo ETA', () => {
  it('measures the pace from the first finished step: a slow start does not count', () => {
    // 20 s of warm-up for the first step, then 0.1 s per step: 999 steps left after step 1.
    const eta = new Eta(1000);
    expect(eta.update({ at: 0, done: 0 })).toBeNull();
    expect(eta.update({ at: 20_000, done: 1 })).toBeNull();
    // 100 steps later, 10 s later: 0.1 s per step × 899 steps left = 89.9 s.
    expect(eta.update({ at: 30_000, done: 101 })).toBe(90);
    // Linear from the start it would have said 30 s × 899 / 101 = 267 s.
    expect(Math.round((30 * 899) / 101)).toBe(267);
  });

  it('no estimate without a pace; never negative', () => {
    expect(etaSeconds(null, { at: 1, done: 1 }, 10)).toBeNull();
    expect(etaSeconds({ at: 5, done: 3 }, { at: 9, done: 3 }, 10)).toBeNull();
    expect(etaSeconds({ at: 0, done: 1 }, { at: 1000, done: 12 }, 10)).toBe(0);
  });
});
