import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STATE,
  defaultState,
  formatNorm,
  formatNumber,
  formatState,
  parseState,
  type ViewState,
} from './state';

describe('URL state', () => {
  it('round-trips a fully specified view', () => {
    const state: ViewState = {
      page: 'run',
      run: 'ex1-lstm6',
      layer: 'bidirectional_1',
      kind: 'weight-grad',
      part: 'backward/kernel/z',
      view: '1d',
      iterations: [20, 200, 400],
      diff: true,
      norm: 0.01,
      rows: 4,
      reflect: false,
      timeAxis: 'y',
      colorbar: false,
      ticks: false,
      borders: false,
      sample: 3,
      scale: 'each',
      equal: false,
      maxT: 50,
      channels: '0-7',
      cmap: 'bwr',
      flowCmap: 'magma',
      follow: true,
      asinh: true,
      mirror: true,
      hist: 'offset',
      smooth: 0.85,
      logY: true,
      lossX: 'time',
    };
    const hash = formatState(state);
    expect(parseState(hash)).toEqual(state);
    // names with reserved characters survive
    const odd = { ...defaultState(), page: 'run' as const, run: 'a&b=c #1/ü', layer: 'lstm 1?' };
    expect(parseState(formatState(odd))).toEqual(odd);
  });

  it('leaves defaults out of the URL', () => {
    const state = { ...defaultState(), page: 'run' as const, run: 'r', layer: 'lstm_1' };
    expect(formatState(state)).toBe('#/run?run=r&layer=lstm_1');
    expect(formatState({ ...defaultState(), page: 'run' })).toBe('#/run');
    expect(parseState('#/run?run=r&layer=lstm_1')).toEqual(state);
  });

  it('keeps p99 and auto norms, rejects nonsense', () => {
    expect(parseState(formatState({ ...defaultState(), page: 'run', norm: 'p99' })).norm).toBe('p99');
    const bad = parseState(
      '#/run?norm=abc&kind=grad&view=3d&it=1,x,2,2&rows=-1&sample=-2&maxT=0&t=z&cmap=jet',
    );
    expect(bad).toMatchObject({
      norm: 'auto',
      kind: DEFAULT_STATE.kind,
      view: DEFAULT_STATE.view,
      iterations: [1, 2],
      rows: null,
      sample: 'auto',
      maxT: null,
      timeAxis: 'x',
      cmap: 'RdBu',
    });
    expect(parseState('#/run?norm=-0.5').norm).toBe(0.5);
  });

  it('samples: auto by default, all, one, or a list (issue 24); the colour scale shared or per iteration', () => {
    expect(parseState('#/run').sample).toBe('auto');
    expect(parseState('#/run?sample=all').sample).toBe('all');
    expect(parseState('#/run?sample=7').sample).toBe(7);
    expect(parseState('#/run?sample=12,3,12').sample).toEqual([12, 3]);
    expect(parseState('#/run?sample=1,,2').sample).toBe('auto');
    const listed = { ...defaultState(), page: 'run' as const, sample: [40, 2] };
    expect(formatState(listed)).toBe('#/run?sample=40%2C2');
    expect(parseState(formatState(listed))).toEqual(listed);
    expect(formatState({ ...defaultState(), page: 'run', sample: 'all' })).toBe('#/run?sample=all');
    expect(parseState('#/run?scale=each').scale).toBe('each');
    expect(parseState('#/run?scale=x').scale).toBe('shared');
  });

  it('opens the gallery by default, on #/gallery and on ?view=gallery', () => {
    expect(parseState('').page).toBe('gallery');
    expect(parseState('#/gallery').page).toBe('gallery');
    expect(parseState('#/run?run=x', '?view=gallery').page).toBe('gallery');
    expect(formatState(defaultState())).toBe('#/gallery');
  });
});

describe('number formatting', () => {
  it('writes the norm like See RNN titles', () => {
    expect(formatNorm(0.01)).toBe('norm=(-0.01, 0.01)');
    expect(formatNorm(0.0001)).toBe('norm=(-1e-4, 1e-4)');
    expect(formatNorm(0.000123456)).toBe('norm=(-1.23e-4, 1.23e-4)');
  });

  it('keeps 3 significant digits', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(123.456)).toBe('123');
    expect(formatNumber(-0.0291234)).toBe('-0.0291');
    expect(formatNumber(12345)).toBe('1.23e+4');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });
});
