import { describe, expect, it } from 'vitest';
import { diagnoseFlow, logNorms, memoryHorizon } from './flow';

describe('memory horizon', () => {
  it('is the lag at which the norm first falls below 1% of the last timestep’s', () => {
    // T = 8, last norm 2 → threshold 0.02. Walking back: t6 = 1 (lag 1), t5 = 0.5, t4 = 0.1, t3 = 0.03,
    // t2 = 0.019 < 0.02 → lag 5 (timestep 2). t1 = 0.5 (a later rise) does not matter.
    const norms = [0.001, 0.5, 0.019, 0.03, 0.1, 0.5, 1, 2];
    expect(memoryHorizon(norms, 8)).toEqual({ lag: 5, timestep: 2, threshold: 0.02, reachesStart: false });
  });

  it('reads one row of an iteration-major matrix', () => {
    const matrix = [1, 1, 1, 1, /* row 1: */ 0.0001, 0.5, 0.009, 1];
    expect(memoryHorizon(matrix, 4, 4)).toMatchObject({ lag: 1, timestep: 2 });
    expect(memoryHorizon(matrix, 4, 0)).toMatchObject({ lag: null, reachesStart: true });
  });

  it('is undefined when the last timestep has no gradient', () => {
    expect(memoryHorizon([1, 2, 0], 3)).toMatchObject({ lag: null, reachesStart: false });
    expect(memoryHorizon([1, 2, Number.NaN], 3)).toMatchObject({ lag: null, reachesStart: false });
  });

  it('stops at NaN padding like at the start of the sequence', () => {
    expect(memoryHorizon([0.0001, Number.NaN, 1, 1], 4)).toMatchObject({ lag: null, reachesStart: true });
  });
});

/** A norm matrix whose row i decays back from the last timestep as exp(-lag / tau_i) × scale_i. */
function decaying(T: number, rows: { tau: number; scale: number }[]): number[] {
  return rows.flatMap(({ tau, scale }) =>
    Array.from({ length: T }, (_, t) => scale * Math.exp(-(T - 1 - t) / tau)),
  );
}

describe('flow diagnosis', () => {
  it('flags a short horizon as vanishing', () => {
    // tau 1: exp(-lag) < 0.01 from lag 5 on; 5 < 10% of 100 timesteps
    const d = diagnoseFlow(
      [0, 200],
      100,
      decaying(100, [
        { tau: 50, scale: 1 },
        { tau: 1, scale: 1 },
      ]),
    );
    expect(d.status).toBe('vanishing');
    expect(d.horizons.map((h) => h.lag)).toEqual([null, 5]);
    expect(d.reasons[0]).toBe('horizon 5 of 100 timesteps at iteration 200');
  });

  it('flags norms collapsing over training as vanishing', () => {
    const d = diagnoseFlow(
      [0, 100, 200],
      20,
      decaying(20, [
        { tau: 100, scale: 1 },
        { tau: 100, scale: 0.1 },
        { tau: 100, scale: 1e-4 },
      ]),
    );
    expect(d.status).toBe('vanishing');
    expect(d.reasons.join()).toContain('collapsed 4.0 orders of magnitude (iteration 0 → 200)');
  });

  it('flags non-finite values and orders-of-magnitude growth as exploding', () => {
    const flat = decaying(20, [
      { tau: 100, scale: 1 },
      { tau: 100, scale: 1 },
    ]);
    const nonFinite = diagnoseFlow([0, 20], 20, flat, [0, 3]);
    expect(nonFinite.status).toBe('exploding');
    expect(nonFinite.reasons[0]).toBe('non-finite gradient values at iteration 20 (3 values)');

    const grow = diagnoseFlow(
      [0, 20],
      20,
      decaying(20, [
        { tau: 100, scale: 1 },
        { tau: 100, scale: 5000 },
      ]),
    );
    expect(grow.status).toBe('exploding');
    expect(grow.reasons[0]).toContain('grew 3.7 orders of magnitude');
  });

  it('calls a long horizon with steady norms healthy', () => {
    // tau 5: exp(-23/5) = 0.01005, exp(-24/5) = 0.0082 → horizon 24 of 50 timesteps
    const d = diagnoseFlow(
      [0, 20],
      50,
      decaying(50, [
        { tau: 5, scale: 1 },
        { tau: 5, scale: 2 },
      ]),
    );
    expect(d.status).toBe('healthy');
    expect(d.horizons[1]!.lag).toBe(24);
    expect(d.reasons).toEqual(['horizon 24 of 50 timesteps at iteration 20']);
    expect(d.totals[1]! / d.totals[0]!).toBeCloseTo(2, 6);
  });

  it('is unknown without data', () => {
    expect(diagnoseFlow([], 10, []).status).toBe('unknown');
  });
});

describe('logNorms', () => {
  it('takes log10, keeps zero at -Infinity and reports the finite range', () => {
    const { values, lo, hi } = logNorms([1, 100, 0, Number.NaN, 0.001]);
    expect([...values]).toEqual([0, 2, Number.NEGATIVE_INFINITY, Number.NaN, -3]);
    expect([lo, hi]).toEqual([-3, 2]);
  });
});
