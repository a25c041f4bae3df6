// The outcome chart's points and x axis (parameters against loss ÷ baseline), on rows built by hand.
import { describe, expect, it } from 'vitest';
import { columnsOf, type RunRow } from '../runRows';
import { outcomeRow } from '../test-util/rows';
import { niceTicks, outcomePoints } from './outcome';

/** A run's row: a GRU layer with loss ÷ baseline `ratio` (learning-long up to 0.5, else not-learning), or no outcome. */
function row(id: string, ratio: number | null, params: Record<string, unknown>): RunRow {
  return outcomeRow(
    id,
    ratio === null
      ? { params }
      : { verdict: ratio <= 0.5 ? 'learning-long' : 'not-learning', ratio, reach: 3, params },
  );
}

const ROWS = [
  row('a', 0.02, { lr: 0.001, cell: 'GRU' }),
  row('b', 1.1, { lr: 0.1, cell: 'SimpleRNN' }),
  row('c', 0.3, { lr: 0.01, cell: 'LSTM' }),
  row('d', null, { lr: 0.01, cell: 'GRU' }),
  row('e', 0.5, { cell: 'GRU' }),
];
const COLUMNS = columnsOf(ROWS);
const col = (k: string) => COLUMNS.find((c) => c.key === k)!;

describe('outcomePoints', () => {
  it('a number parameter spanning two decades or more is a log axis; runs without a ratio or a value are left out', () => {
    const { points, axis, left } = outcomePoints(ROWS, col('p.lr'));
    expect(points.map((p) => [p.row.run.id, p.x, p.y, p.verdict])).toEqual([
      ['a', 0.001, 0.02, 'learning-long'],
      ['b', 0.1, 1.1, 'not-learning'],
      ['c', 0.01, 0.3, 'learning-long'],
    ]);
    expect(axis).toEqual({ kind: 'log', categories: [], min: 0.001, max: 0.1 });
    // d has no loss ratio, e no lr.
    expect(left).toBe(2);
  });

  it('a text parameter: categories in natural order, each point at its category index', () => {
    const { points, axis } = outcomePoints(ROWS, col('p.cell'));
    expect(axis.categories).toEqual(['GRU', 'LSTM', 'SimpleRNN']);
    expect(points.map((p) => [p.row.run.id, p.x])).toEqual([
      ['a', 0],
      ['b', 2],
      ['c', 1],
      ['e', 0],
    ]);
  });

  it('text categories with their numbers by value: lr0.005 before lr0.01', () => {
    const sweep = [
      row('x', 0.2, { tag: 'lr0.01' }),
      row('y', 0.1, { tag: 'lr0.005' }),
      row('z', 0.3, { tag: 'lr0.1' }),
    ];
    const { points, axis } = outcomePoints(sweep, columnsOf(sweep).find((c) => c.key === 'p.tag')!);
    expect(axis.categories).toEqual(['lr0.005', 'lr0.01', 'lr0.1']);
    expect(points.map((p) => [p.row.run.id, p.x])).toEqual([
      ['x', 1],
      ['y', 0],
      ['z', 2],
    ]);
  });

  it('round ticks over a linear range', () => {
    expect(niceTicks(0, 10, 5).map((t) => t.v)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(8, 32, 3).map((t) => t.label)).toEqual(['10', '20', '30']);
  });
});
