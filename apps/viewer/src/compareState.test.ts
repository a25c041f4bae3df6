import { describe, expect, it } from 'vitest';
import { type CompareState, compareLink, DEFAULT_COMPARE, formatCompare, parseCompare } from './compareState';

describe('compare URL state', () => {
  it('groups hold any number of runs (one band each); ungrouped, eight lines at most', () => {
    const many = Array.from({ length: 30 }, (_, i) => `r${i}`);
    const grouped = parseCompare(compareLink(many, { by: 'group' }));
    expect(grouped.runs).toEqual(many);
    expect(grouped.by).toBe('group');
    expect(parseCompare(compareLink(many)).runs).toEqual(many.slice(0, 8));
    // A parameter's name with characters of its own survives.
    expect(parseCompare(compareLink(['a', 'b'], { by: 'learning rate&x' })).by).toBe('learning rate&x');
  });

  it('round-trips a fully specified state', () => {
    const s: CompareState = {
      runs: ['memory-lstm', 'memory-gru', 'memory-simplernn'],
      layer: 'recurrent:0',
      kind: 'input-grad',
      by: 'lr',
      band: 'minmax',
      iterations: [20, 200, 400],
      smooth: 0.85,
      logY: true,
      flowCmap: 'magma',
    };
    const hash = formatCompare(s);
    expect(hash).toBe(
      '#/compare?runs=memory-lstm,memory-gru,memory-simplernn&layer=recurrent%3A0&kind=input-grad&by=lr&band=minmax&it=20,200,400&smooth=0.85&logy=1&fcmap=magma',
    );
    expect(parseCompare(hash)).toEqual(s);
  });

  it('defaults are left out and read back', () => {
    expect(formatCompare({ ...DEFAULT_COMPARE, runs: ['a', 'b'] })).toBe('#/compare?runs=a,b');
    expect(parseCompare('#/compare?runs=a,b')).toEqual({ ...DEFAULT_COMPARE, runs: ['a', 'b'] });
    expect(parseCompare('#/compare')).toEqual(DEFAULT_COMPARE);
  });

  it('names with commas, ampersands, spaces and non-ASCII survive', () => {
    const s = { ...DEFAULT_COMPARE, runs: ['a,b', 'x&y=z', 'run 1 ü', 'p+q'] };
    expect(parseCompare(formatCompare(s))).toEqual(s);
  });

  it('reads the demo gallery links (apps/demo/src/examples.ts compareHref)', () => {
    expect(parseCompare('#/compare?runs=memory-lstm,memory-gru,memory-simplernn&kind=input-grad')).toEqual({
      ...DEFAULT_COMPARE,
      runs: ['memory-lstm', 'memory-gru', 'memory-simplernn'],
      kind: 'input-grad',
    });
    // A kind asked for stays in the URL: without one the page shows the kind the verdict rests on.
    expect(compareLink(['ex4-lstm16', 'ex7-gru16'], { kind: 'output-grad' })).toBe(
      '#/compare?runs=ex4-lstm16,ex7-gru16&kind=output-grad',
    );
    expect(compareLink(['ex4-lstm16', 'ex7-gru16'])).toBe('#/compare?runs=ex4-lstm16,ex7-gru16');
  });

  it('drops what it cannot read: duplicates, a ninth run, bad kinds, iterations and smoothing', () => {
    const s = parseCompare(
      '#/compare?runs=a,a,b,,c,d,e,f,g,h,i&kind=nope&it=x,400,20,20,-1&smooth=7&logy=yes',
    );
    expect(s.runs).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(s.kind).toBe(null);
    expect(parseCompare('#/compare?by=&band=wide')).toMatchObject({ by: null, band: 'std' });
    expect(s.iterations).toEqual([20, 400]);
    expect(s.smooth).toBe(0.999);
    expect(s.logY).toBe(false);
    expect(parseCompare('#/compare?smooth=abc').smooth).toBe(DEFAULT_COMPARE.smooth);
  });
});
