// The diagnosis rules on profiles whose answer is written out by hand: an exact geometric decay, a profile
// that grows with lag, a learned and an unlearned loss. The verdicts on real training runs whose truth is
// known are checked by the labelled benchmark (apps/demo/src/labelled).
import { describe, expect, it } from 'vitest';
import {
  DIAGNOSIS_RULES,
  describeDiagnosis,
  diagnose,
  type IterationObservation,
  reachOf,
  theilSen,
  timestepNorms,
} from './diagnosis.js';

const T = 48;
/** norms[t] = 10^(-rate · lag) with lag = T - 1 - t. */
const decaying = (rate: number, timesteps = T) =>
  Float64Array.from({ length: timesteps }, (_, t) => 10 ** (-rate * (timesteps - 1 - t)));

function run(observations: Partial<IterationObservation>[], baseline: number | null = 1) {
  return diagnose({
    id: 'r',
    name: 'run',
    baseline,
    layers: [
      {
        layer: 'gru',
        layerClass: 'GRU',
        iterations: observations.map((o, i) => ({
          iteration: (i + 1) * 10,
          loss: 1,
          nonFinite: 0,
          profiles: [],
          ...o,
        })),
      },
    ],
  }).layers[0]!;
}

describe('reachOf', () => {
  it('reads an exact geometric decay: its rate, reach at 1e-2 and 1e-4 of the peak, share beyond T/2', () => {
    const r = reachOf({ kind: 'jacobian', part: null, norms: decaying(0.11) })!;
    expect(r.decadesPerStep).toBeCloseTo(0.11, 10);
    expect(r.reach1e2).toBe(18); // 10^-1.98 at lag 18, 10^-2.09 at 19
    expect(r.reach1e4).toBe(36);
    expect(r.farRatio).toBeCloseTo(10 ** (-0.11 * 24), 10); // the first lag ≥ T/2 is 24
    let far = 0;
    let all = 0;
    for (let lag = 0; lag < T; lag++) {
      const e = 10 ** (-0.22 * lag);
      all += e;
      if (lag >= T / 2) far += e;
    }
    expect(r.shareBeyondHalf).toBeCloseTo(far / all, 12);
    expect(r.growth).toBeCloseTo(10 ** (-0.11 * (T - 1)), 12);
  });

  it("counts lags from step 0 for a Bidirectional's backward direction (its last state is at step 0)", () => {
    const backward = decaying(0.11).reverse();
    const r = reachOf({ kind: 'jacobian', part: 'backward', norms: backward })!;
    expect(r.decadesPerStep).toBeCloseTo(0.11, 10);
    expect(r.reach1e2).toBe(18);
  });

  it('is robust to a few outlying timesteps (Theil–Sen), and null for all-zero norms', () => {
    const norms = decaying(0.05);
    norms[3] = 1e-30;
    norms[40] = 0.5;
    expect(reachOf({ kind: 'input-grad', part: null, norms })!.decadesPerStep).toBeCloseTo(0.05, 2);
    expect(reachOf({ kind: 'input-grad', part: null, norms: new Float64Array(T) })).toBeNull();
    expect(theilSen([0, 1, 2, 3, 4], [0, 2, 4, 6, 100])).toBe(2);
  });
});

describe('verdicts', () => {
  const long = [{ kind: 'jacobian' as const, part: null, norms: decaying(0.02) }];
  const short = [{ kind: 'jacobian' as const, part: null, norms: decaying(0.3) }];

  it('learning-long: the loss fell below half the baseline and the state keeps ≥1% of its peak beyond T/2', () => {
    const d = run([
      { loss: 0.9, profiles: long },
      { loss: 0.03, profiles: long },
    ]);
    expect(d.verdict).toBe('learning-long');
    expect(d.causes).toEqual([]);
    expect(d.evidence.lossRatio).toBeCloseTo(0.03);
    expect(d.evidence.firstLossRatio).toBeCloseTo(0.9);
    expect(d.evidence.baselineMethod).toBe('constant-predictor');
    expect(d.iterations.map((i) => i.verdict)).toEqual(['not-learning', 'learning-long']);
  });

  it('learning-short: learned, but the state forgets within T/2 steps (and vanishing beyond)', () => {
    const d = run([{ loss: 0.1, profiles: short }]);
    expect(d.verdict).toBe('learning-short');
    expect(d.causes).toEqual(['vanishing']);
  });

  it('not-learning: a gradient that reaches t = 0 is no answer while the loss stays near the baseline', () => {
    // The forget-gate-open LSTM: 2.2× → 0.84× the constant predictor, its gradient reaching every step.
    const d = run([
      { loss: 2.2, profiles: long },
      { loss: 0.84, profiles: long },
    ]);
    expect(d.verdict).toBe('not-learning');
    expect(d.evidence.lossTrend).toBeCloseTo(Math.log10(0.84 / 2.2));
    expect(d.summary).toMatch(/^gru: not learning .*0\.84× the constant predictor/);
  });

  it('with no known constant, judges against the first probe loss and says so', () => {
    const d = run(
      [
        { loss: 4, profiles: long },
        { loss: 1, profiles: long },
      ],
      null,
    );
    expect(d.evidence.baselineMethod).toBe('first-probe-loss');
    expect(d.evidence.lossRatio).toBeCloseTo(0.25);
    expect(d.verdict).toBe('learning-long');
    expect(describeDiagnosis(d)).toMatch(/the first probe loss/);
  });

  it('non-finite values or loss: not-learning, cause non-finite; a loss 10× the baseline: exploding', () => {
    expect(run([{ loss: Number.NaN, profiles: long }])).toMatchObject({
      verdict: 'not-learning',
      causes: ['non-finite'],
    });
    expect(run([{ loss: 0.1, nonFinite: 3, profiles: long }]).causes).toContain('non-finite');
    expect(run([{ loss: 25, profiles: long }])).toMatchObject({
      verdict: 'not-learning',
      causes: ['exploding'],
    });
    const growing = [{ kind: 'jacobian' as const, part: null, norms: decaying(-0.1) }];
    expect(run([{ loss: 1, profiles: growing }]).causes).toContain('exploding');
  });

  it('saturated when more than half the output is at |h| ≥ 0.99; dead units from zero weight gradients', () => {
    const d = run([
      { loss: 1, profiles: short, saturatedShare: 0.7, unitGradNorms: [{ part: '', norms: [1, 0, 2] }] },
      { loss: 1, profiles: short, saturatedShare: 0.8, unitGradNorms: [{ part: '', norms: [1, 0, 0.5] }] },
    ]);
    expect(d.causes).toEqual(['vanishing', 'saturated', 'dead-units']);
    expect(d.evidence).toMatchObject({ deadUnits: 1, units: 3, saturatedShare: 0.8 });
  });

  it('insufficient-data: no loss at all, or a learned model without a per-timestep measure', () => {
    expect(run([{ loss: null, profiles: long }]).verdict).toBe('insufficient-data');
    const d = run([{ loss: 0.1 }]);
    expect(d.verdict).toBe('insufficient-data');
    expect(d.summary).toMatch(/record 'jacobian' or 'input-grad'/);
    // Not learning needs no time axis: the loss says it.
    expect(run([{ loss: 0.95 }]).verdict).toBe('not-learning');
  });

  /** Norm 1 at lags below T/2 and `far` beyond: a share of far²/(1 + far²) of the energy lies beyond T/2. */
  const step = (kind: 'jacobian' | 'input-grad', far: number) => ({
    kind,
    part: null,
    norms: Float64Array.from({ length: T }, (_, t) => (T - 1 - t >= T / 2 ? far : 1)),
  });

  it('long or short: the loss must draw ≥ 3% of its input gradient from beyond T/2, and the state carry it', () => {
    // The labelled runs' short-lag learners: input-grad share ≤ 0.005, jacobian far/peak 0.07.
    const short = run([
      { loss: 0.01, profiles: [step('input-grad', Math.sqrt(0.005 / 0.995)), step('jacobian', 0.07)] },
    ]);
    expect(short.verdict).toBe('learning-short');
    expect(short.evidence.reach.find((r) => r.kind === 'input-grad')!.shareBeyondHalf).toBeCloseTo(0.005, 10);
    // Long-lag learners: share ≥ 0.16, far/peak ≥ 0.25.
    const long = run([
      { loss: 0.01, profiles: [step('input-grad', Math.sqrt(0.16 / 0.84)), step('jacobian', 0.25)] },
    ]);
    expect(long.verdict).toBe('learning-long');
    expect(long.summary).toMatch(
      /input-grad: 16% of the loss gradient lies beyond 24 steps back; jacobian keeps 0\.25 of its peak there/,
    );
    // A loss that reaches far back through a state that cannot carry it: not long.
    expect(run([{ loss: 0.01, profiles: [step('input-grad', 1), step('jacobian', 0.005)] }]).verdict).toBe(
      'learning-short',
    );
    // Without input-grad the jacobian alone decides, at 0.15 of its peak (a state remembers more than the loss uses).
    expect(run([{ loss: 0.01, profiles: [step('jacobian', 0.07)] }]).verdict).toBe('learning-short');
    expect(run([{ loss: 0.01, profiles: [step('jacobian', 0.25)] }]).verdict).toBe('learning-long');
    // Without the jacobian, input-grad alone.
    expect(run([{ loss: 0.01, profiles: [step('input-grad', 0.5)] }]).verdict).toBe('learning-long');
  });

  it('a long loss dependence needs the state to carry it; of two directions, the one reaching farthest', () => {
    const d = run([
      {
        loss: 0.1,
        profiles: [
          { kind: 'input-grad', part: null, norms: decaying(0.02) },
          { kind: 'jacobian', part: 'forward', norms: decaying(0.3) },
          { kind: 'jacobian', part: 'backward', norms: decaying(0.3).reverse() },
        ],
      },
    ]);
    expect(d.verdict).toBe('learning-short');
    expect(d.evidence.reach.map((r) => [r.kind, r.part])).toEqual([
      ['jacobian', 'forward'],
      ['jacobian', 'backward'],
      ['input-grad', null],
    ]);
  });

  it('thresholds are the documented ones', () => {
    expect(DIAGNOSIS_RULES).toMatchObject({
      learnedRatio: 0.5,
      longShare: 0.03,
      longFraction: 1e-2,
      longFractionJacobianOnly: 0.15,
      vanishingFraction: 1e-3,
    });
  });
});

describe('timestepNorms', () => {
  it('equals the L2 norm over samples and channels of each timestep', () => {
    const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // [2 samples, 3 timesteps, 2 channels]
    const norms = timestepNorms(data, [2, 3, 2]);
    expect(Array.from(norms)).toEqual([
      Math.sqrt(1 + 4 + 49 + 64),
      Math.sqrt(9 + 16 + 81 + 100),
      Math.sqrt(25 + 36 + 121 + 144),
    ]);
  });
});
