// The checks of a run's group and parameters: what passes comes back as a plain JSON copy, what does not
// fails naming the value, its path and what was expected.
import { describe, expect, it } from 'vitest';
import { checkGroup, checkParams, MAX_GROUP_LENGTH, paramText } from './params.js';

describe('checkParams', () => {
  it('returns a deep JSON copy of a JSON object', () => {
    const given = { lr: 0.005, cell: 'GRU', seeds: [1, 2, null], nested: { a: true }, none: null };
    const copy = checkParams(given, 'params');
    expect(copy).toEqual(given);
    expect(copy.seeds).not.toBe(given.seeds);
    expect(checkParams(Object.create(null), 'params')).toEqual({});
  });

  it('names the first value JSON cannot hold, with its path', () => {
    expect(() => checkParams({ lr: Number.NaN }, 'params')).toThrow(
      'params.lr must be a finite number (JSON has no NaN), got NaN',
    );
    expect(() => checkParams({ a: { b: [1, Number.POSITIVE_INFINITY] } }, 'params')).toThrow(
      'params.a.b[1] must be a finite number (JSON has no Infinity), got Infinity',
    );
    expect(() => checkParams({ f: () => 1 }, 'params')).toThrow(
      'params.f must be JSON (a string, finite number, boolean, null, array or object), got a function',
    );
    expect(() => checkParams({ d: new Date(0) }, 'params')).toThrow(/params\.d must be JSON .*got a Date/);
    expect(() => checkParams({ u: undefined }, 'params')).toThrow(/params\.u must be JSON .*got undefined/);
    expect(() => checkParams({ '': 1 }, 'params')).toThrow('params has an empty key');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => checkParams({ d: deep }, 'params')).toThrow(
      /^params\.d(\[0\]){32} nests deeper than 32 levels$/,
    );
  });

  it('is an object, not an array, a string or null', () => {
    expect(() => checkParams([1], 'params')).toThrow(
      'params must be a JSON object such as { "lr": 0.005, "seed": 1 }, got an array',
    );
    expect(() => checkParams('lr=1', 'params')).toThrow(/got "lr=1"$/);
    expect(() => checkParams(null, 'params')).toThrow(/got null$/);
  });

  it('makes the error of the caller', () => {
    class MyError extends Error {}
    expect(() => checkParams(3, 'p', (m) => new MyError(m))).toThrow(MyError);
  });
});

describe('checkGroup', () => {
  it('takes a non-empty string up to MAX_GROUP_LENGTH', () => {
    expect(checkGroup('gru-lr0.005', 'group')).toBe('gru-lr0.005');
    expect(() => checkGroup('', 'group')).toThrow(
      'group must be a non-empty string (e.g. the seed-free name of a configuration), got ""',
    );
    expect(() => checkGroup('  ', 'group')).toThrow(/non-empty string/);
    expect(() => checkGroup(3, 'group')).toThrow(/got 3$/);
    expect(() => checkGroup('x'.repeat(MAX_GROUP_LENGTH + 1), 'group')).toThrow(
      `group must be at most ${MAX_GROUP_LENGTH} characters, got ${MAX_GROUP_LENGTH + 1}`,
    );
  });
});

describe('paramText', () => {
  it('strings as they are, numbers as JavaScript writes them, the rest as JSON', () => {
    expect(paramText('GRU')).toBe('GRU');
    expect(paramText(0.005)).toBe('0.005');
    expect(paramText(true)).toBe('true');
    expect(paramText([16, 32])).toBe('[16,32]');
    expect(paramText(null)).toBe('null');
  });
});
