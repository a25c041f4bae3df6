import { encodeMatrix, type FlowResponse, memoryHorizon } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import {
  describeHorizon,
  diagnoseFlow,
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
    const d = diagnoseFlow(flow.iterations, 4, [1, 1, 1, 1], storedHorizons(flow));
    expect(d.horizons).toEqual([{ horizon: 2, t0Ratio: 0.5 }]);
    expect(d.reasons).toEqual(['horizon 2 of 4 timesteps at iteration 0 (norm(t=0)/max = 0.5)']);
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

describe('flow diagnosis (stored horizon and t0Ratio)', () => {
  const rowsOf = (m: number[][]) => m.map((r) => direct(r));

  it('flags vanishing when norm(t=0)/max < 1e-3 at the latest iteration', () => {
    const m = decaying(100, [
      { tau: 50, scale: 1 },
      { tau: 15, scale: 1 },
    ]);
    const hs = rowsOf(m);
    // tau 15: horizon 99 - floor(15·ln 100) = 30 (not past half), ratio exp(-99/15) = 1.4e-3: not yet.
    expect(hs[1]).toMatchObject({ horizon: 30 });
    expect(diagnoseFlow([0, 200], 100, m.flat(), hs).status).toBe('healthy');
    const m2 = decaying(100, [
      { tau: 50, scale: 1 },
      { tau: 14, scale: 1 },
    ]);
    const d = diagnoseFlow([0, 200], 100, m2.flat(), rowsOf(m2));
    // tau 14: ratio exp(-99/14) = 8.49e-4 < 1e-3 (horizon 99 - floor(64.47) = 35, not past half).
    expect(d.status).toBe('vanishing');
    expect(d.reasons).toEqual(['horizon 35 of 100 timesteps at iteration 200 (norm(t=0)/max = 8e-4)']);
  });

  it('flags vanishing when the horizon is past half the sequence', () => {
    // Ratio faked at 0.5 so that only the horizon rule can fire: 21 > 40 / 2.
    const norms = new Array(40).fill(1);
    const past = diagnoseFlow([40], 40, norms, [{ horizon: 21, t0Ratio: 0.5 }]);
    expect(past.status).toBe('vanishing');
    expect(past.reasons[0]).toBe('horizon 21 of 40 timesteps at iteration 40 (norm(t=0)/max = 0.5)');
    expect(diagnoseFlow([40], 40, norms, [{ horizon: 20, t0Ratio: 0.5 }]).status).toBe('healthy');
    // An earlier iteration's horizon does not count: only the latest one.
    expect(
      diagnoseFlow(
        [0, 40],
        40,
        [...norms, ...norms],
        [
          { horizon: 39, t0Ratio: 1e-9 },
          { horizon: 0, t0Ratio: 1 },
        ],
      ).status,
    ).toBe('healthy');
  });

  it('flags norms collapsing over training as vanishing', () => {
    const m = decaying(20, [
      { tau: 100, scale: 1 },
      { tau: 100, scale: 0.1 },
      { tau: 100, scale: 1e-4 },
    ]);
    const d = diagnoseFlow([0, 100, 200], 20, m.flat(), rowsOf(m));
    expect(d.status).toBe('vanishing');
    expect(d.reasons.join()).toContain('collapsed 4.0 orders of magnitude (iteration 0 → 200)');
    // The totals are the L2 norms over timesteps.
    const total = Math.hypot(...m[2]!);
    expect(d.totals[2]).toBeCloseTo(total, 12);
  });

  it('flags non-finite values and orders-of-magnitude growth as exploding', () => {
    const flat = decaying(20, [
      { tau: 100, scale: 1 },
      { tau: 100, scale: 1 },
    ]);
    const nonFinite = diagnoseFlow([0, 20], 20, flat.flat(), rowsOf(flat), [0, 3]);
    expect(nonFinite.status).toBe('exploding');
    expect(nonFinite.reasons[0]).toBe('non-finite gradient values at iteration 20 (3 values)');
    const grow = decaying(20, [
      { tau: 100, scale: 1 },
      { tau: 100, scale: 5000 },
    ]);
    const d = diagnoseFlow([0, 20], 20, grow.flat(), rowsOf(grow));
    expect(d.status).toBe('exploding');
    expect(d.reasons[0]).toContain('grew 3.7 orders of magnitude');
  });

  it('calls a long horizon with steady norms healthy, in the badge’s words', () => {
    // tau 20, T 50: 1% is 92 timesteps back, beyond the start: horizon 0, ratio exp(-49/20) = 0.086.
    const m = decaying(50, [
      { tau: 20, scale: 1 },
      { tau: 20, scale: 2 },
    ]);
    const d = diagnoseFlow([0, 20], 50, m.flat(), rowsOf(m));
    expect(d.status).toBe('healthy');
    expect(d.horizons[1]!.horizon).toBe(0);
    expect(d.reasons).toEqual([
      `horizon 0 of 50 timesteps at iteration 20 (norm(t=0)/max = ${formatRatio(Math.exp(-49 / 20))})`,
    ]);
    expect(d.totals[1]! / d.totals[0]!).toBeCloseTo(2, 6);
  });

  it('is unknown without data, or when the latest row has no horizon (all zero)', () => {
    expect(diagnoseFlow([], 10, [], []).status).toBe('unknown');
    const d = diagnoseFlow([0], 3, [0, 0, 0], [{ horizon: null, t0Ratio: null }]);
    expect(d.status).toBe('unknown');
    expect(d.reasons[0]).toContain('no horizon at iteration 0');
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
    expect(describeHorizon({ horizon: 3, t0Ratio: 2e-7 }, 50, 400)).toBe(
      'horizon 3 of 50 timesteps at iteration 400 (norm(t=0)/max = 2e-7)',
    );
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
