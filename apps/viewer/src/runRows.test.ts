// The runs table's pure operations on rows built by hand, each expectation worked out independently of the
// code: filters parsed and applied, sorts (missing values last both ways, ties in the given order), groups.
import { describe, expect, it } from 'vitest';
import { columnsOf, compareCells, filterSort, groupRows, parseFilter, passes, type RunRow } from './runRows';
import { outcomeRow } from './test-util/rows';

const ROWS = [
  outcomeRow('a', {
    verdict: 'learning-long',
    ratio: 0.02,
    reach: 19,
    params: { cell: 'GRU', lr: 0.001 },
    group: 'g1',
  }),
  outcomeRow('b', {
    verdict: 'not-learning',
    ratio: 1.1,
    reach: 3,
    params: { cell: 'SimpleRNN', lr: 0.01 },
    group: 'g2',
  }),
  outcomeRow('c', {
    verdict: 'learning-short',
    ratio: 0.3,
    reach: 5,
    params: { cell: 'LSTM', lr: 0.01 },
    group: 'g1',
  }),
  outcomeRow('d', { verdict: 'learning-long', ratio: 0.05, reach: 18, params: { cell: 'GRU', lr: 0.03 } }),
  outcomeRow('e', { params: { cell: 'GRU', lr: 0.001, note: { a: 1 } } }),
];
const COLUMNS = columnsOf(ROWS);
const ids = (rows: RunRow[]) => rows.map((r) => r.run.id);
const q = (o: Partial<Parameters<typeof filterSort>[2]>) => ({
  filters: {},
  sort: null,
  groupBy: null,
  ...o,
});

describe('columnsOf', () => {
  it('the run and its outcome, every parameter in first-seen order (numeric when every value is a number), the run state', () => {
    expect(COLUMNS.map((c) => c.key)).toEqual([
      'name',
      'group',
      'verdict',
      'lossRatio',
      'reach',
      'p.cell',
      'p.lr',
      'p.note',
      'causes',
      'status',
      'started',
      'iteration',
    ]);
    const type = (k: string) => COLUMNS.find((c) => c.key === k)!.type;
    expect([type('p.cell'), type('p.lr'), type('p.note'), type('lossRatio')]).toEqual([
      'text',
      'number',
      'text',
      'number',
    ]);
    // An object parameter is its JSON text.
    expect(COLUMNS.find((c) => c.key === 'p.note')!.value(ROWS[4]!)).toBe('{"a":1}');
  });
});

describe('parseFilter and passes', () => {
  it('reads numeric ranges in every form offered', () => {
    const inf = Number.POSITIVE_INFINITY;
    expect(parseFilter('0.1..1', 'number')).toEqual({
      kind: 'range',
      min: 0.1,
      max: 1,
      minOpen: false,
      maxOpen: false,
    });
    expect(parseFilter('..0.5', 'number')).toMatchObject({ min: -inf, max: 0.5 });
    expect(parseFilter('2..', 'number')).toMatchObject({ min: 2, max: inf });
    expect(parseFilter('>0.5', 'number')).toMatchObject({ min: 0.5, minOpen: true, max: inf });
    expect(parseFilter('<=3', 'number')).toMatchObject({ max: 3, maxOpen: false });
    expect(parseFilter('1e-3', 'number')).toMatchObject({ min: 0.001, max: 0.001 });
    expect(parseFilter('  ', 'number')).toBeNull();
    expect(parseFilter('abc', 'number')).toEqual({
      kind: 'invalid',
      message: '"abc" is not a range: write 0.1..1, ..0.5, 2.., >0.5, <=3 or a number',
    });
    expect(parseFilter('Learning LONG', 'text')).toEqual({ kind: 'text', words: ['learning', 'long'] });
  });

  it('applies them: bounds inclusive unless strict, a missing value passes none', () => {
    const lt = parseFilter('<0.5', 'number')!;
    expect([0.49, 0.5, null].map((v) => passes(v, lt))).toEqual([true, false, false]);
    const range = parseFilter('0.02..0.3', 'number')!;
    expect([0.02, 0.3, 0.31].map((v) => passes(v, range))).toEqual([true, true, false]);
    expect(passes('learning-long', parseFilter('long', 'text')!)).toBe(true);
    expect(passes('learning-short', parseFilter('long', 'text')!)).toBe(false);
    // An invalid filter filters nothing (the page says why).
    expect(passes(null, parseFilter('abc', 'number')!)).toBe(true);
  });
});

describe('filterSort', () => {
  it('filters by every column at once', () => {
    expect(ids(filterSort(ROWS, COLUMNS, q({ filters: { lossRatio: '<0.5' } })))).toEqual(['a', 'c', 'd']);
    expect(ids(filterSort(ROWS, COLUMNS, q({ filters: { lossRatio: '<0.5', 'p.cell': 'gru' } })))).toEqual([
      'a',
      'd',
    ]);
    expect(ids(filterSort(ROWS, COLUMNS, q({ filters: { verdict: 'long' } })))).toEqual(['a', 'd']);
    expect(ids(filterSort(ROWS, COLUMNS, q({ filters: { 'p.lr': '0.01' } })))).toEqual(['b', 'c']);
    // A filter on a column that does not exist is left out.
    expect(ids(filterSort(ROWS, COLUMNS, q({ filters: { nope: 'x' } })))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('sorts numbers, text and verdicts both ways, missing values last, ties in the given order', () => {
    expect(ids(filterSort(ROWS, COLUMNS, q({ sort: { key: 'lossRatio', desc: false } })))).toEqual([
      'a',
      'd',
      'c',
      'b',
      'e',
    ]);
    expect(ids(filterSort(ROWS, COLUMNS, q({ sort: { key: 'lossRatio', desc: true } })))).toEqual([
      'b',
      'c',
      'd',
      'a',
      'e',
    ]);
    // Verdicts best first; a and d tie and keep their order.
    expect(ids(filterSort(ROWS, COLUMNS, q({ sort: { key: 'verdict', desc: false } })))).toEqual([
      'a',
      'd',
      'c',
      'b',
      'e',
    ]);
    expect(ids(filterSort(ROWS, COLUMNS, q({ sort: { key: 'p.cell', desc: false } })))).toEqual([
      'a',
      'd',
      'e',
      'c',
      'b',
    ]);
    expect(ids(filterSort(ROWS, COLUMNS, q({ sort: { key: 'group', desc: true } })))).toEqual([
      'b',
      'a',
      'c',
      'd',
      'e',
    ]);
  });
});

describe('natural order (compareNatural, as `gradscope doctor --group-by`)', () => {
  // Run names of a learning-rate sweep: 0.005 < 0.01 < 0.1, where digit runs alone ('en' numeric collation)
  // put '…0.01' (01 = 1) before '…0.005' (005 = 5).
  const SWEEP = [
    outcomeRow('gru-lr0.01', { params: { tag: 'lr0.01' }, group: 'lr0.01' }),
    outcomeRow('gru-lr0.1', { params: { tag: 'lr0.1' }, group: 'lr0.1' }),
    outcomeRow('gru-lr0.005', { params: { tag: 'lr0.005' }, group: 'lr0.005' }),
  ];
  const columns = columnsOf(SWEEP);
  const column = (k: string) => columns.find((c) => c.key === k)!;

  it('sorts text cells with their numbers by value: gru-lr0.005 before gru-lr0.01', () => {
    expect(compareCells('gru-lr0.005', 'gru-lr0.01')).toBeLessThan(0);
    expect(compareCells('s2', 's10')).toBeLessThan(0);
    expect(ids(filterSort(SWEEP, columns, q({ sort: { key: 'name', desc: false } })))).toEqual([
      'gru-lr0.005',
      'gru-lr0.01',
      'gru-lr0.1',
    ]);
    expect(ids(filterSort(SWEEP, columns, q({ sort: { key: 'name', desc: true } })))).toEqual([
      'gru-lr0.1',
      'gru-lr0.01',
      'gru-lr0.005',
    ]);
  });

  it('groups in the same order', () => {
    expect(groupRows(SWEEP, column('p.tag')).map((g) => g.label)).toEqual(['lr0.005', 'lr0.01', 'lr0.1']);
    expect(groupRows(SWEEP, column('group')).map((g) => g.label)).toEqual(['lr0.005', 'lr0.01', 'lr0.1']);
  });
});

describe('groupRows', () => {
  it('one group per value in value order, the rows without one last, with counts, tallies and median ratio', () => {
    const cell = COLUMNS.find((c) => c.key === 'p.cell')!;
    const groups = groupRows(ROWS, cell);
    expect(groups.map((g) => [g.label, ids(g.rows)])).toEqual([
      ['GRU', ['a', 'd', 'e']],
      ['LSTM', ['c']],
      ['SimpleRNN', ['b']],
    ]);
    expect(groups[0]!.verdicts).toEqual({
      'learning-long': 2,
      'learning-short': 0,
      'not-learning': 0,
      'insufficient-data': 0,
    });
    // e has no loss ratio: the median of 0.02 and 0.05.
    expect(groups[0]!.medianLossRatio).toBeCloseTo(0.035, 12);
    const byGroup = groupRows(ROWS, COLUMNS.find((c) => c.key === 'group')!);
    expect(byGroup.map((g) => [g.label, g.rows.length])).toEqual([
      ['g1', 2],
      ['g2', 1],
      ['no group', 2],
    ]);
    const byLr = groupRows(ROWS, COLUMNS.find((c) => c.key === 'p.lr')!);
    expect(byLr.map((g) => g.value)).toEqual([0.001, 0.01, 0.03]);
  });
});
