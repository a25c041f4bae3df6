import { describe, expect, it } from 'vitest';
import { xAxisSize, yAxisSize } from './axes';

// 6 px per character: a monospace stand-in for the canvas measure.
const mono = (t: string) => t.length * 6;

describe('axis sizes from their labels (issue 12, item 3)', () => {
  it('fit the widest y label, minus sign included', () => {
    const labels = ['-0.00201', '0', '0.00201'];
    const size = yAxisSize(labels, mono, 3, 2);
    expect(size).toBeGreaterThanOrEqual(mono('-0.00201') + 3 + 2);
    // a label wider than the old fixed 46 px axis widens the axis
    expect(yAxisSize(['-0.000201'], (t) => t.length * 5.6, 3, 2)).toBeGreaterThan(46);
    expect(yAxisSize(null, mono, 3, 2)).toBe(7);
  });

  it('leave an x axis room for the tick, the gap and a line of text', () => {
    // uPlot's default ticks are 10 px: the old 20 px axis with a 14 px title overlapped them
    expect(xAxisSize(10, 10, 5)).toBeGreaterThanOrEqual(10 + 5 + 12);
    expect(xAxisSize(10, 3, 2)).toBe(Math.ceil(3 + 2 + 12.5 + 2));
  });
});
