// What the PostgreSQL provider retries as an outage and what it fails at once.
import { describe, expect, it } from 'vitest';
import { StoreError } from '../errors.js';
import { isUnavailable } from './connection.js';

describe('isUnavailable', () => {
  it('is true for socket errors, connection SQLSTATEs and a dropped connection', () => {
    const cases = [
      { code: 'ECONNREFUSED' },
      { code: 'ENOTFOUND' }, // a database host whose name does not resolve (yet)
      { code: '08006' },
      { code: '57P01' },
      { code: '53300' },
      new Error('Connection terminated unexpectedly'),
    ];
    expect(cases.map(isUnavailable)).toEqual([true, true, true, true, true, true]);
  });

  it("is false for the store's own refusals, also the not-found one that shares DNS's code", () => {
    const notFound = new StoreError('ENOTFOUND', 'postgres://db/gs: cannot end run ghost: no such run');
    expect([notFound.code, isUnavailable(notFound)]).toEqual(['ENOTFOUND', false]);
    expect([isUnavailable({ code: '23505' }), isUnavailable({ code: '42P01' }), isUnavailable(null)]).toEqual(
      [false, false, false],
    );
  });
});
