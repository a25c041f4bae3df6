import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../api';
import { filterSortRuns, matchesQuery } from './runList';

const run = (name: string, startedAt: number, status: RunRecord['status'], snapshots: number): RunRecord => ({
  id: `id-${name}`,
  name,
  startedAt,
  endedAt: null,
  status,
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'h',
  snapshots,
  lastIteration: null,
  layers: [],
  meta: {},
});

const runs = [
  run('ex1-lstm6', 3, 'finished', 60),
  run('memory-gru', 5, 'running', 12),
  run('memory-lstm', 4, 'failed', 90),
  run('ex10-gru', 1, 'interrupted', 12),
];
const text = (r: RunRecord) => `${r.name} ${r.status}`;

describe('run list', () => {
  it('filters on every word of the query, case-insensitively', () => {
    expect(matchesQuery('memory-lstm LSTM(16) finished', 'LSTM memory')).toBe(true);
    expect(matchesQuery('memory-lstm', 'memory gru')).toBe(false);
    expect(matchesQuery('anything', '  ')).toBe(true);
    expect(filterSortRuns(runs, 'memory', 'started', text).map((r) => r.name)).toEqual([
      'memory-gru',
      'memory-lstm',
    ]);
    expect(filterSortRuns(runs, 'GRU', 'name', text).map((r) => r.name)).toEqual(['ex10-gru', 'memory-gru']);
  });

  it('sorts by start time, status, snapshot count and name', () => {
    const names = (sort: Parameters<typeof filterSortRuns>[2]) =>
      filterSortRuns(runs, '', sort, text).map((r) => r.name);
    expect(names('started')).toEqual(['memory-gru', 'memory-lstm', 'ex1-lstm6', 'ex10-gru']);
    expect(names('status')).toEqual(['memory-gru', 'memory-lstm', 'ex10-gru', 'ex1-lstm6']);
    // ties (12 snapshots) newest first
    expect(names('snapshots')).toEqual(['memory-lstm', 'ex1-lstm6', 'memory-gru', 'ex10-gru']);
    expect(names('name')).toEqual(['ex1-lstm6', 'ex10-gru', 'memory-gru', 'memory-lstm']);
  });

  it('sorts names with their numbers by value (gru-lr0.005 before gru-lr0.01), ties newest first', () => {
    const sweep = [
      run('gru-lr0.01', 1, 'finished', 1),
      run('gru-lr0.005', 2, 'finished', 1),
      run('gru-lr0.1', 3, 'finished', 1),
    ];
    expect(filterSortRuns(sweep, '', 'name', text).map((r) => r.name)).toEqual([
      'gru-lr0.005',
      'gru-lr0.01',
      'gru-lr0.1',
    ]);
    // Started together: the tie-break orders the names the same way.
    const together = sweep.map((r) => ({ ...r, startedAt: 7 }));
    expect(filterSortRuns(together, '', 'started', text).map((r) => r.name)).toEqual([
      'gru-lr0.005',
      'gru-lr0.01',
      'gru-lr0.1',
    ]);
  });
});
