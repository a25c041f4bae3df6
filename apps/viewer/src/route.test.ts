import { describe, expect, it } from 'vitest';
import { DEFAULT_COMPARE } from './compareState';
import { formatRoute, parseRoute } from './route';
import { defaultState } from './state';

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
    // ?view=gallery in the query wins over the fragment.
    expect(parseRoute('#/run?run=a', '?view=gallery')).toEqual({ page: 'gallery' });
  });

  it('formatRoute is its inverse', () => {
    for (const hash of [
      '#/gallery',
      '#/run?run=id-1&layer=lstm_1&it=20,200',
      '#/compare?runs=a,b&kind=jacobian',
    ])
      expect(parseRoute(formatRoute(parseRoute(hash)))).toEqual(parseRoute(hash));
    expect(formatRoute({ page: 'run', state: { ...defaultState(), page: 'run', run: 'x' } })).toBe(
      '#/run?run=x',
    );
  });
});
