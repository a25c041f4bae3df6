import { encodeMatrix, type FlowResponse, memoryHorizon } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import {
  flowLabels,
  formatRatio,
  HORIZON_FRACTION,
  horizonMeaning,
  logNorms,
  type RowHorizon,
  rowThreshold,
  storedHorizons,
} from './flow';

/**
 * The horizon by hand, independently of @gradscope/format: the largest finite norm, then the first timestep
 * at or above 1% of it, and norm(0) over that largest norm.
 */
function direct(row: readonly number[]): RowHorizon {
  const finite = row.filter((v) => Number.isFinite(v));
  const max = finite.length ? Math.max(...finite) : 0;
  if (!(max > 0)) return { horizon: null, t0Ratio: null };
  const horizon = row.findIndex((v) => Number.isFinite(v) && v >= 0.01 * max);
  return { horizon, t0Ratio: Number.isFinite(row[0]!) ? row[0]! / max : null };
}

/** Rows decaying back from the last timestep as scale × exp(-lag / tau). */
function decaying(T: number, rows: { tau: number; scale: number }[]): number[][] {
  return rows.map(({ tau, scale }) =>
    Array.from({ length: T }, (_, t) => Math.fround(scale * Math.exp(-(T - 1 - t) / tau))),
  );
}

/** A flow response as the server sends it, its horizons computed the store's way (format's memoryHorizon). */
function response(rows: number[][], parts: Record<string, number[][]> = {}): FlowResponse {
  const T = rows[0]?.length ?? 0;
  const enc = (m: number[][]) => encodeMatrix(Float32Array.from(m.flat()), [m.length, T]);
  const horizons = (m: number[][]) => {
    const hs = m.map((r) => memoryHorizon(Float32Array.from(r)));
    return { horizon: hs.map((x) => x.horizon), t0Ratio: hs.map((x) => x.t0Ratio) };
  };
  const names = Object.keys(parts);
  return {
    ids: rows.map((_, i) => i + 1),
    iterations: rows.map((_, i) => i * 100),
    count: rows.length,
    timesteps: T,
    norms: enc(rows),
    ...horizons(rows),
    ...(names.length
      ? {
          parts: Object.fromEntries(names.map((n) => [n, enc(parts[n]!)])),
          partHorizons: Object.fromEntries(names.map((n) => [n, horizons(parts[n]!)])),
        }
      : {}),
  } as FlowResponse;
}

describe('stored memory horizon', () => {
  it('is what a direct computation gives: earliest timestep at ≥ 1% of the row’s largest norm', () => {
    // T = 8, largest 2 → 1% = 0.02: t0 0.001 and t2 0.019 are below, t1 = 0.5 is the earliest at or above.
    const rows = [
      [0.001, 0.5, 0.019, 0.03, 0.1, 0.5, 1, 2],
      [0.0001, 0.005, 0.009, 0.011, 1, 0.5, 0.2, 0.1],
      [3, 2, 1, 0.5, 0.1, 0.01, 0.001, 0.0001],
    ];
    const flow = response(rows);
    expect(storedHorizons(flow)).toEqual(rows.map((r) => direct(r.map(Math.fround))));
    expect(storedHorizons(flow).map((h) => h.horizon)).toEqual([1, 3, 0]);
    // exp(-lag / tau) ≥ 1% while lag ≤ tau·ln 100: the horizon is T - 1 - floor(tau·ln 100), at least 0.
    const T = 50;
    const taus = [1.2, 3, 5, 20];
    const flow2 = response(
      decaying(
        T,
        taus.map((tau) => ({ tau, scale: 1e-3 })),
      ),
    );
    expect(storedHorizons(flow2).map((h) => h.horizon)).toEqual(
      taus.map((tau) => Math.max(0, T - 1 - Math.floor(tau * Math.log(100)))),
    );
    for (const [i, tau] of taus.entries())
      expect(storedHorizons(flow2)[i]!.t0Ratio!).toBeCloseTo(Math.exp(-(T - 1) / tau), 6);
  });

  it('reads each channel part’s own horizon, and unknown rows as null', () => {
    const forward = decaying(12, [{ tau: 2, scale: 1 }])[0]!;
    const backward = [...forward].reverse();
    const flow = response([forward], { forward: [forward], backward: [backward] });
    expect(storedHorizons(flow, 'forward')).toEqual([direct(forward)]);
    // In input time order the backward direction peaks at t = 0: horizon 0, ratio 1.
    expect(storedHorizons(flow, 'backward')).toEqual([{ horizon: 0, t0Ratio: 1 }]);
    expect(storedHorizons(flow, 'nope')).toEqual([{ horizon: null, t0Ratio: null }]);
    const { horizon: _h, t0Ratio: _r, ...bare } = flow;
    expect(storedHorizons(bare as FlowResponse)).toEqual([{ horizon: null, t0Ratio: null }]);
  });

  it('is read, never recomputed: a stored value that disagrees with the norms wins', () => {
    const flow = { ...response([[1, 1, 1, 1]]), horizon: [2], t0Ratio: [0.5] };
    expect(storedHorizons(flow)).toEqual([{ horizon: 2, t0Ratio: 0.5 }]);
  });

  it('draws the threshold at 1% of the row’s largest finite norm', () => {
    const matrix = [1, 4, 2, Number.NaN, /* row 1: */ 0.5, Number.POSITIVE_INFINITY, 0.25, 0];
    expect(rowThreshold(matrix, 4, 0)).toBeCloseTo(HORIZON_FRACTION * 4, 12);
    expect(rowThreshold(matrix, 4, 4)).toBeCloseTo(0.005, 12);
    expect(rowThreshold([0, 0, Number.NaN], 3)).toBeNaN();
    // The horizon of a row is its first timestep at or above its threshold.
    const row = decaying(30, [{ tau: 4, scale: 7 }])[0]!;
    const th = rowThreshold(row, 30);
    expect(row.findIndex((v) => v >= th)).toBe(direct(row).horizon);
  });
});

describe('words', () => {
  it('format ratios at a glance', () => {
    expect([2e-7, 8.4e-4, 0.0224, 0.5, 1, 0, null].map(formatRatio)).toEqual([
      '2e-7',
      '8e-4',
      '0.022',
      '0.5',
      '1',
      '0',
      '—',
    ]);
  });

  it('name the kind: gradients are flows, activations are not', () => {
    expect(flowLabels('output-grad')).toMatchObject({
      title: 'Gradient flow — output-grad (dL/d output)',
      gradient: true,
    });
    expect(flowLabels('input-grad')).toMatchObject({
      title: 'Gradient flow — input-grad (dL/d input)',
      gradient: true,
    });
    expect(flowLabels('output')).toMatchObject({ title: 'Activation norms over training', gradient: false });
    expect(flowLabels('output').title).not.toMatch(/gradient/i);
  });

  it('say what the horizon means for a backward direction, without "last timestep"', () => {
    expect(horizonMeaning('forward')).toContain('earliest timestep');
    const back = horizonMeaning('backward');
    expect(back).toContain('input time order');
    expect(back).toContain('START of the input');
    expect(back).not.toContain('last timestep’s');
  });
});

describe('logNorms', () => {
  it('takes log10, keeps zero at -Infinity and reports the finite range', () => {
    const { values, lo, hi } = logNorms([1, 100, 0, Number.NaN, 0.001]);
    expect([...values]).toEqual([0, 2, Number.NEGATIVE_INFINITY, Number.NaN, -3]);
    expect([lo, hi]).toEqual([-3, 2]);
  });
});
