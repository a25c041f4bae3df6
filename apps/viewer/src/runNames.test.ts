import { describe, expect, it } from 'vitest';
import { runKey, runLabel } from './runNames';
import { sparkline } from './sparkline';

const a1 = { id: 'id-a1', name: 'recall', startedAt: 100 };
const a2 = { id: 'id-a2', name: 'recall', startedAt: 200 };
const b = { id: 'id-b', name: 'other', startedAt: 150 };
const anon = { id: 'id-x', name: '', startedAt: 50 };

describe('runs sharing a name', () => {
  it('are linked by id and labelled by start order; a unique name stays the name', () => {
    const runs = [a2, b, a1, anon];
    expect(runKey(a1, runs)).toBe('id-a1');
    expect(runKey(a2, runs)).toBe('id-a2');
    expect(runKey(b, runs)).toBe('other');
    expect(runKey(anon, runs)).toBe('id-x');
    expect(runLabel(a1, runs)).toBe('recall #1');
    expect(runLabel(a2, runs)).toBe('recall #2');
    expect(runLabel(b, runs)).toBe('other');
    expect(runLabel(anon, runs)).toBe('id-x');
  });
});

describe('sparkline', () => {
  it('maps the curve and the baseline into the box (y down), gaps at non-finite values', () => {
    const s = sparkline([0, 10, 20, 30], [4, 2, Number.NaN, 0], 1, 104, 44);
    // x: 2 + x/30 × 100; y: 2 + (4 − y)/4 × 40 (range 0 … 4, the baseline inside it)
    expect(s.path).toBe('M2.0,2.0L35.3,22.0M102.0,42.0');
    expect(s.baselineY).toBe(32);
  });
  it('the baseline widens the range when the loss never reaches it', () => {
    const s = sparkline([0, 1], [0.5, 0.25], 1, 104, 44);
    expect(s.baselineY).toBe(2);
    // range 0.25 … 1: y = 2 + (1 − v) / 0.75 × 40
    expect(s.path).toBe('M2.0,28.7L102.0,42.0');
  });
  it('nothing to draw without a finite point', () => {
    expect(sparkline([], [], 1, 10, 10)).toEqual({ path: '', baselineY: null });
  });
});
