// Grouping diagnosed runs: the verdict counts and the spreads of a group equal values written out by hand
// from the runs' evidence.
import { describe, expect, it } from 'vitest';
import type { Cause, LayerDiagnosis, RunDiagnosis, Verdict } from './diagnosis.js';
import { compareNatural, type GroupableRun, groupRuns, groupValue, spread } from './groups.js';
import * as format from './index.js';

function layer(
  name: string,
  verdict: Verdict,
  lossRatio: number | null,
  farRatio: number | null,
  reach1e2 = 0,
  causes: Cause[] = [],
  share = 0,
): LayerDiagnosis {
  return {
    layer: name,
    layerClass: 'GRU',
    verdict,
    causes,
    summary: '',
    iterations: [],
    evidence: {
      iteration: 100,
      loss: lossRatio,
      baseline: 1,
      baselineMethod: 'constant-predictor',
      lossRatio,
      firstLossRatio: 1,
      lossTrend: null,
      // An input-grad reach that the jacobian's must win over: the group reads the decisive one.
      reach:
        farRatio === null
          ? []
          : [
              {
                kind: 'jacobian',
                part: null,
                timesteps: 50,
                decadesPerStep: 0.01,
                reach1e2,
                reach1e4: 49,
                shareBeyondHalf: 0.1,
                farRatio,
                growth: 0.5,
              },
              {
                kind: 'input-grad',
                part: null,
                timesteps: 50,
                decadesPerStep: 0.5,
                reach1e2: 1,
                reach1e4: 2,
                shareBeyondHalf: share,
                farRatio: 0.9,
                growth: 0.5,
              },
            ],
      nonFinite: 0,
      nonFiniteTotal: 0,
      saturatedShare: null,
      deadUnits: null,
      units: null,
    },
  };
}

function run(
  id: string,
  params: Record<string, unknown>,
  layers: LayerDiagnosis[],
  group: string | null = null,
): GroupableRun {
  const diagnosis: RunDiagnosis = { id, name: id, layers };
  return { group, params, diagnosis };
}

const vanishing: Cause[] = ['vanishing'];
const runs: GroupableRun[] = [
  run('g1', { cell: 'GRU', lr: 0.01 }, [layer('gru_1', 'learning-long', 0.04, 0.2, 40)], 'gru'),
  run('l1', { cell: 'LSTM', lr: 0.005 }, [layer('lstm_1', 'learning-short', 0.3, 0.005, 10)], 'lstm'),
  run('g2', { cell: 'GRU', lr: 0.005 }, [layer('gru_2', 'learning-long', 0.01, 0.3, 45)], 'gru'),
  run(
    'g3',
    { cell: 'GRU', lr: '0.005' },
    [
      layer('gru_3', 'not-learning', 1.0, 1e-4, 2, vanishing),
      layer('gru_4', 'learning-short', 0.5, 0.002, 3),
    ],
    'gru',
  ),
  run('x1', {}, [layer('simple_rnn_1', 'insufficient-data', null, null)]),
  run('g4', { cell: 'GRU', lr: 0.01 }, [layer('gru_5', 'learning-long', 0.02, 0.1, 30)], 'gru'),
  run('g5', { cell: 'GRU' }, [layer('gru_6', 'not-learning', 0.9, 5e-4, 4, vanishing)], 'gru'),
  run('l2', { cell: 'LSTM', lr: 0.01 }, [layer('lstm_2', 'not-learning', 0.8, null)], 'lstm'),
];

describe('compareNatural', () => {
  it('orders text with the numbers in it by their value, decimals and exponents included', () => {
    const sorted = (xs: string[]) => [...xs].sort(compareNatural);
    // Digit runs alone would put 0.01 (01) before 0.005 (005).
    expect(sorted(['gru-lr0.01', 'gru-lr0.005', 'gru-lr0.1'])).toEqual([
      'gru-lr0.005',
      'gru-lr0.01',
      'gru-lr0.1',
    ]);
    expect(sorted(['seed 10', 'seed 2', 'seed 1'])).toEqual(['seed 1', 'seed 2', 'seed 10']);
    expect(sorted(['lr0.01', 'lr1e-3', 'lr2e-2'])).toEqual(['lr1e-3', 'lr0.01', 'lr2e-2']);
    // The text between numbers in the locale's order, a prefix first.
    expect(sorted(['lstm', 'gru-2', 'gru', 'LSTM-1'])).toEqual(['gru', 'gru-2', 'lstm', 'LSTM-1']);
    expect(compareNatural('run-7', 'run-7')).toBe(0);
    expect(Math.sign(compareNatural('run-10', 'run-9'))).toBe(1);
  });

  it('is exported by the package', () => {
    expect(format.compareNatural).toBe(compareNatural);
  });
});

describe('spread', () => {
  it('median, range, mean and population std of the finite values', () => {
    const s = spread([1.0, 0.04, null, 0.01, Number.NaN, 0.9, 0.02])!;
    expect(s.n).toBe(5);
    expect(s.median).toBe(0.04);
    expect(s.min).toBe(0.01);
    expect(s.max).toBe(1.0);
    expect(s.mean).toBeCloseTo(1.97 / 5, 14);
    // Deviations from 0.394: -0.384, -0.374, -0.354, 0.506, 0.606; their squares sum to 1.03592.
    expect(s.std).toBeCloseTo(Math.sqrt(1.03592 / 5), 14);
    expect(spread([3, 1])).toMatchObject({ n: 2, median: 2, min: 1, max: 3, mean: 2, std: 1 });
    expect(spread([null, Number.POSITIVE_INFINITY])).toBeNull();
  });
});

describe('groupRuns', () => {
  it("by a parameter: each value's runs, verdict counts and spreads per layer position", () => {
    const groups = groupRuns(runs, 'cell');
    expect(groups.map((g) => [g.group, g.runs])).toEqual([
      ['GRU', ['g1', 'g2', 'g3', 'g4', 'g5']],
      ['LSTM', ['l1', 'l2']],
      [null, ['x1']],
    ]);
    const gru = groups[0]!;
    expect(gru.key).toBe('cell');
    expect(gru.value).toBe('GRU');
    expect(gru.verdicts).toEqual([
      { 'learning-long': 3, 'learning-short': 0, 'not-learning': 2, 'insufficient-data': 0 },
      { 'learning-long': 0, 'learning-short': 1, 'not-learning': 0, 'insufficient-data': 0 },
    ]);
    const [first, second] = gru.evidence;
    expect(first!.runs).toBe(5);
    expect(first!.layers).toEqual(['gru_1', 'gru_2', 'gru_3', 'gru_5', 'gru_6']);
    expect(first!.causes).toEqual({ vanishing: 2 });
    // Loss ratios 0.04, 0.01, 1.0, 0.02, 0.9: sorted 0.01, 0.02, 0.04, 0.9, 1.0.
    expect(first!.lossRatio).toMatchObject({ n: 5, median: 0.04, min: 0.01, max: 1.0 });
    expect(first!.lossRatio!.mean).toBeCloseTo(0.394, 14);
    // The jacobian's far ratios (not the input-grad's 0.9): 1e-4, 5e-4, 0.1, 0.2, 0.3.
    expect(first!.farRatio).toMatchObject({ n: 5, median: 0.1, min: 1e-4, max: 0.3 });
    // Reach 40, 45, 2, 30, 4: sorted 2, 4, 30, 40, 45; mean 121 / 5.
    expect(first!.reach1e2).toMatchObject({ n: 5, median: 30, min: 2, max: 45, mean: 24.2 });
    expect(first!.runsByVerdict).toEqual({
      'learning-long': ['g1', 'g2', 'g4'],
      'not-learning': ['g3', 'g5'],
    });
    expect(first!.shareBeyondHalf).toMatchObject({ n: 5, median: 0, min: 0, max: 0 });
    expect(second).toMatchObject({ position: 1, layers: ['gru_4'], runs: 1, causes: {} });
    expect(second!.lossRatio).toMatchObject({ n: 1, median: 0.5, std: 0 });
    expect(gru.summary).toEqual([
      'layer 1 (gru_1, gru_2, gru_3, …): learning-long in 3 of 5 runs, not-learning in 2; vanishing in 2 ' +
        '(loss ÷ baseline median 0.04, range 0.01–1; loss gradient beyond T/2 0% in all 5; far/peak median 0.1, range 1.0e-4–0.3)',
      'layer 2 (gru_4): learning-short in 1 of 1 run (loss ÷ baseline 0.5; loss gradient beyond T/2 0%; far/peak 0.002)',
    ]);
    const lstm = groups[1]!;
    // l2 has no reach: its far ratio is left out of the spread, its loss ratio is not.
    expect(lstm.evidence[0]!.farRatio).toMatchObject({ n: 1, median: 0.005 });
    expect(lstm.evidence[0]!.lossRatio).toMatchObject({ n: 2, median: 0.55, min: 0.3, max: 0.8 });
    const none = groups[2]!;
    expect(none.summary).toEqual(['layer 1 (simple_rnn_1): insufficient-data in 1 of 1 run (no probe loss)']);
  });

  it('numbers in numeric order, then text, the runs without the key last; 0.005 and "0.005" apart', () => {
    const groups = groupRuns(runs, 'lr');
    expect(groups.map((g) => [g.value, g.runs])).toEqual([
      [0.005, ['l1', 'g2']],
      [0.01, ['g1', 'g4', 'l2']],
      ['0.005', ['g3']],
      [null, ['x1', 'g5']],
    ]);
    expect(groups[1]!.verdicts[0]).toEqual({
      'learning-long': 2,
      'learning-short': 0,
      'not-learning': 1,
      'insufficient-data': 0,
    });
    expect(groups[1]!.evidence[0]!.lossRatio).toMatchObject({ median: 0.04, min: 0.02, max: 0.8 });
  });

  it('a group of one configuration at several seeds counts seeds and names them per verdict', () => {
    const seeded = [
      run('s1', { seed: 1 }, [layer('rnn_1', 'learning-long', 0.03, 1, 47, [], 0.62)], 'rnn-lr0.005'),
      run('s2', { seed: 2 }, [layer('rnn_2', 'not-learning', 1, 0.17, 20, [], 0.0017)], 'rnn-lr0.005'),
      run('s10', { seed: 10 }, [layer('rnn_3', 'not-learning', 1, 0.014, 9, vanishing, 5e-5)], 'rnn-lr0.005'),
    ];
    const [g] = groupRuns(seeded, 'group');
    expect(g!.evidence[0]!.runsByVerdict).toEqual({ 'learning-long': ['s1'], 'not-learning': ['s2', 's10'] });
    // Shares 0.62, 0.0017, 5e-5: median 0.0017.
    expect(g!.evidence[0]!.shareBeyondHalf).toMatchObject({ n: 3, median: 0.0017, min: 5e-5, max: 0.62 });
    expect(g!.summary).toEqual([
      'layer 1 (rnn_1, rnn_2, rnn_3): not-learning in 2 of 3 seeds (seeds 2, 10), learning-long in 1 (seed 1); ' +
        'vanishing in 1 (loss ÷ baseline median 1, range 0.03–1; loss gradient beyond T/2 median 0.17%, ' +
        'range 0.005%–62%; far/peak median 0.17, range 0.014–1)',
    ]);
    // One verdict for every seed: counted in seeds, none named.
    expect(groupRuns(seeded.slice(1), 'group')[0]!.summary[0]).toMatch(
      /: not-learning in 2 of 2 seeds; vanishing/,
    );
    // Two runs of one seed, or a run without one: counted as runs.
    const twice = [
      ...seeded,
      run('s1b', { seed: 1 }, [layer('rnn_4', 'not-learning', 1, 0.1)], 'rnn-lr0.005'),
    ];
    expect(groupRuns(twice, 'group')[0]!.summary[0]).toMatch(
      /: not-learning in 3 of 4 runs, learning-long in 1; vanishing in 1 \(/,
    );
    const unseeded = [...seeded, run('x', {}, [layer('rnn_5', 'not-learning', 1, 0.1)], 'rnn-lr0.005')];
    expect(groupRuns(unseeded, 'group')[0]!.summary[0]).toMatch(
      /: not-learning in 3 of 4 runs, learning-long in 1; vanishing in 1 \(/,
    );
    // Seeds of their own but another parameter apart: not one configuration, counted as runs.
    const mixed = [
      ...seeded,
      run('s3', { seed: 3, lr: 0.01 }, [layer('rnn_6', 'not-learning', 1, 0.1)], 'rnn-lr0.005'),
    ];
    expect(groupRuns(mixed, 'group')[0]!.summary[0]).toMatch(
      /: not-learning in 3 of 4 runs, learning-long in 1; vanishing in 1 \(/,
    );
  });

  it('text in natural order with the numbers in it compared by value: lr0.005 before lr0.01, seed 2 before 10', () => {
    const named = [
      'gru-lr0.01',
      'gru-lr0.005',
      'lstm-lr1e-3',
      'lstm-lr0.002',
      'gru-lr0.005 seed 10',
      'gru-lr0.005 seed 2',
    ];
    const grouped = groupRuns(
      named.map((g, i) => run(`r${i}`, {}, [layer('l', 'not-learning', 1, 0.1)], g)),
      'group',
    );
    expect(grouped.map((g) => g.group)).toEqual([
      'gru-lr0.005',
      'gru-lr0.005 seed 2',
      'gru-lr0.005 seed 10',
      'gru-lr0.01',
      'lstm-lr1e-3',
      'lstm-lr0.002',
    ]);
  });

  it("by 'group': the runs' group field; a key no run has puts every run in one group", () => {
    expect(groupRuns(runs, 'group').map((g) => [g.group, g.runs.length])).toEqual([
      ['gru', 5],
      ['lstm', 2],
      [null, 1],
    ]);
    expect(groupRuns(runs, 'seed').map((g) => [g.group, g.runs.length])).toEqual([[null, 8]]);
    expect(groupValue(runs[0]!, 'group')).toBe('gru');
    expect(groupValue(runs[0]!, 'lr')).toBe(0.01);
    expect(groupRuns([], 'cell')).toEqual([]);
  });
});
