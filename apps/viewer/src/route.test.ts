import { describe, expect, it } from 'vitest';
import { DEFAULT_COMPARE } from './compareState';
import { formatRoute, parseRoute } from './route';
import { defaultState } from './state';
import { DEFAULT_TABLE, formatTable } from './tableState';

describe('parseRoute', () => {
  it('one parser for the three pages; anything else is the gallery', () => {
    expect(parseRoute('#/gallery')).toEqual({ page: 'gallery' });
    expect(parseRoute('')).toEqual({ page: 'gallery' });
    expect(parseRoute('#/nowhere?run=a')).toEqual({ page: 'gallery' });
    const run = parseRoute('#/run?run=id-1&layer=lstm_1&it=20,200');
    expect(run).toMatchObject({
      page: 'run',
      state: { page: 'run', run: 'id-1', layer: 'lstm_1', iterations: [20, 200] },
    });
    const compare = parseRoute('#/compare?runs=a,b%2Cc&kind=jacobian&it=0,400');
    expect(compare).toEqual({
      page: 'compare',
      state: { ...DEFAULT_COMPARE, runs: ['a', 'b,c'], kind: 'jacobian', iterations: [0, 400] },
    });
    // A run named "compare" is a run page; the compare page is its path.
    expect(parseRoute('#/run?run=compare').page).toBe('run');
    expect(parseRoute('#/compare').page).toBe('compare');
    // The runs table, its state read once here.
    expect(parseRoute('#/runs?sort=-lossRatio&by=p.cell&f.p.lr=..0.01&x=p.lr')).toEqual({
      page: 'runs',
      state: {
        sort: { key: 'lossRatio', desc: true },
        groupBy: 'p.cell',
        filters: { 'p.lr': '..0.01' },
        x: 'p.lr',
      },
    });
    expect(parseRoute('#/runs')).toEqual({ page: 'runs', state: DEFAULT_TABLE });
    // A run named "runs" is a run page.
    expect(parseRoute('#/run?run=runs').page).toBe('run');
    // ?view=gallery in the query wins over the fragment.
    expect(parseRoute('#/run?run=a', '?view=gallery')).toEqual({ page: 'gallery' });
  });

  it('formatRoute is its inverse', () => {
    for (const hash of [
      '#/gallery',
      '#/run?run=id-1&layer=lstm_1&it=20,200',
      '#/compare?runs=a,b&kind=jacobian',
      '#/compare?runs=a,b,c&by=lr&band=minmax',
      '#/runs?sort=name&by=group&f.verdict=long&f.lossRatio=%3C0.5',
    ])
      expect(parseRoute(formatRoute(parseRoute(hash)))).toEqual(parseRoute(hash));
    expect(formatTable(DEFAULT_TABLE)).toBe('#/runs');
    expect(formatRoute({ page: 'run', state: { ...defaultState(), page: 'run', run: 'x' } })).toBe(
      '#/run?run=x',
    );
  });
});
