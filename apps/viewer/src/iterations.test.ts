import { describe, expect, it } from 'vitest';
import { defaultIterations, resolveIterations } from './iterations';

const every20 = Array.from({ length: 21 }, (_, i) => i * 20); // 0, 20, …, 400

describe('default iterations', () => {
  it('are 20, 200 and 400 (See RNN) when the run has all three', () => {
    expect(defaultIterations(every20)).toEqual([20, 200, 400]);
  });

  it('are first, middle and last otherwise', () => {
    const every50 = [0, 50, 100, 150, 250, 300];
    expect(defaultIterations(every50)).toEqual([0, 100, 300]);
    expect(defaultIterations([0, 20, 200])).toEqual([0, 20, 200]);
    expect(defaultIterations([5, 9])).toEqual([5, 9]);
    expect(defaultIterations([7])).toEqual([7]);
    expect(defaultIterations([])).toEqual([]);
  });
});

describe('resolveIterations', () => {
  it('keeps the wanted iterations that exist, up to four, without duplicates', () => {
    expect(resolveIterations([40, 40, 60, 999], every20)).toEqual([40, 60]);
    expect(resolveIterations([0, 20, 40, 60, 80], every20)).toEqual([0, 20, 40, 60]);
  });

  it('falls back to the defaults when none exist', () => {
    expect(resolveIterations([999], every20)).toEqual([20, 200, 400]);
    expect(resolveIterations([], every20)).toEqual([20, 200, 400]);
  });

  it('when following, moves the last compared iteration to the newest one', () => {
    expect(resolveIterations([20, 200, 380], every20, true)).toEqual([20, 200, 400]);
    expect(resolveIterations([20], every20, true)).toEqual([20, 400]);
    expect(resolveIterations([20, 400], every20, true)).toEqual([20, 400]);
    expect(resolveIterations([], [], true)).toEqual([]);
  });
});
