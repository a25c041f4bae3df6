import { describe, expect, it } from 'vitest';
import { checkOptions, closestName, editDistance, type OptionKeys } from './options.js';

/** The distance by its definition: the minimum over every edit script, by plain recursion (tiny words only). */
function slowDistance(a: string, b: string): number {
  if (a === '') return b.length;
  if (b === '') return a.length;
  const options = [
    slowDistance(a.slice(1), b) + 1,
    slowDistance(a, b.slice(1)) + 1,
    slowDistance(a.slice(1), b.slice(1)) + (a[0] === b[0] ? 0 : 1),
  ];
  if (a.length > 1 && b.length > 1 && a[0] === b[1] && a[1] === b[0])
    options.push(slowDistance(a.slice(2), b.slice(2)) + 1);
  return Math.min(...options);
}

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent transpositions', () => {
    expect(editDistance('captur', 'capture')).toBe(1);
    expect(editDistance('capture', 'captrue')).toBe(1);
    expect(editDistance('every', 'evrey')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', 'abc')).toBe(0);
  });

  it('agrees with the recursive definition on every pair of short words over a small alphabet', () => {
    const words = ['', 'a', 'b', 'ab', 'ba', 'aab', 'abb', 'bab', 'abab', 'baab', 'bbaa'];
    for (const a of words)
      for (const b of words) expect(editDistance(a, b), `${a}|${b}`).toBe(slowDistance(a, b));
  });
});

describe('closestName', () => {
  const known = ['capture', 'every', 'at', 'runName', 'maxPendingWrites', 'sinkTimeoutMs'];
  it('finds the option a typo, a case or a separator slip stands for', () => {
    expect(closestName('captur', known)).toBe('capture');
    expect(closestName('evrey', known)).toBe('every');
    expect(closestName('run_name', known)).toBe('runName');
    expect(closestName('RUNNAME', known)).toBe('runName');
    expect(closestName('sinkTimeout', known)).toBe('sinkTimeoutMs'); // its unit left off
    expect(closestName('sinkTimeotMs', known)).toBe('sinkTimeoutMs');
  });
  it('suggests nothing for a name that is not near any', () => {
    expect(closestName('layer', ['capture', 'every'])).toBeUndefined();
    expect(closestName('x', ['at'])).toBeUndefined();
    expect(closestName('foo', [])).toBeUndefined();
  });
});

interface Example {
  capture?: string[];
  every?: number;
  runName?: string;
}
const KEYS = { capture: true, every: true, runName: true } as const satisfies OptionKeys<Example>;

describe('checkOptions', () => {
  it('passes known options and undefined', () => {
    expect(() => checkOptions({ capture: [], every: 3 }, KEYS, 'f')).not.toThrow();
    expect(() => checkOptions({}, KEYS, 'f')).not.toThrow();
    expect(() => checkOptions(undefined, KEYS, 'f')).not.toThrow();
    expect(() => checkOptions({ runName: 'r' }, ['runName'], 'f')).not.toThrow();
  });

  it('names the unknown option, where it was given and the closest known one', () => {
    expect(() => checkOptions({ captur: ['input-grad'] }, KEYS, 'gradientCallback')).toThrow(
      new TypeError("unknown option 'captur' for gradientCallback; did you mean 'capture'?"),
    );
  });

  it('lists the options when none is close, and every further unknown one', () => {
    expect(() => checkOptions({ layer: 1, evry: 2, zz: 3 }, KEYS, 'f')).toThrow(
      "unknown option 'layer' for f; its options are 'capture', 'every', 'runName' (also unknown: 'evry', 'zz')",
    );
  });

  it('counts an unknown option set to undefined (a typo all the same)', () => {
    expect(() => checkOptions({ evry: undefined }, KEYS, 'f')).toThrow(
      "unknown option 'evry' for f; did you mean 'every'?",
    );
  });

  it('refuses what is not an options object', () => {
    expect(() => checkOptions(null, KEYS, 'f')).toThrow('the options of f must be an object, got null');
    expect(() => checkOptions([1], KEYS, 'f')).toThrow('the options of f must be an object, got an array');
    expect(() => checkOptions('x', KEYS, 'f')).toThrow('the options of f must be an object, got string');
  });

  it("throws the caller's error class", () => {
    class MyError extends Error {}
    expect(() => checkOptions({ x: 1 }, KEYS, 'f', (m) => new MyError(m))).toThrow(MyError);
  });
});
