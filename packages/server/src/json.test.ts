// The JSON helpers: non-finite numbers become null at any depth, the response serializer falls back to that
// copy only when Fastify's own serializer refuses a NaN, and the Host names the DNS-rebinding check allows.
import { describe, expect, it } from 'vitest';
import { hostName, isAllowedHost } from './host.js';
import { finiteSerializerCompiler, withFiniteNumbers } from './json.js';

describe('withFiniteNumbers', () => {
  it('replaces NaN and ±Infinity with null at any depth, typed arrays included', () => {
    const input = {
      a: Number.NaN,
      b: [1, Number.POSITIVE_INFINITY, { c: Number.NEGATIVE_INFINITY, d: 'NaN' }],
      e: Float32Array.from([1, Number.NaN]),
      f: null,
      g: 2.5,
    };
    expect(withFiniteNumbers(input)).toEqual({
      a: null,
      b: [1, null, { c: null, d: 'NaN' }],
      e: [1, null],
      f: null,
      g: 2.5,
    });
  });
});

describe('finiteSerializerCompiler', () => {
  const schema = {
    type: 'object',
    properties: {
      loss: { type: ['number', 'null'] },
      values: { type: 'array', items: { type: ['number', 'null'] } },
    },
  };
  const serialize = finiteSerializerCompiler()({ schema, method: 'GET', url: '/x', httpStatus: '200' });

  it('serialises finite data as Fastify would', () => {
    expect(serialize({ loss: 0.5, values: [1, 2], extra: 1 })).toBe('{"loss":0.5,"values":[1,2]}');
  });

  it('turns the NaN that fast-json-stringify refuses into null', () => {
    expect(serialize({ loss: Number.NaN, values: [1, Number.POSITIVE_INFINITY] })).toBe(
      '{"loss":null,"values":[1,null]}',
    );
  });
});

describe('the Host check', () => {
  it.each([
    ['localhost:6006', 'localhost'],
    ['[::1]:6006', '::1'],
    ['Example.ORG.', 'example.org'],
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
  ])('hostName(%j) = %j', (header, name) => {
    expect(hostName(header)).toBe(name);
  });

  it.each([
    ['localhost', undefined, true],
    ['app.localhost', undefined, true],
    ['127.0.0.2', undefined, true],
    ['::1', undefined, true],
    ['0.0.0.0', undefined, true],
    ['192.168.1.5', '192.168.1.5', true],
    ['192.168.1.5', '::ffff:192.168.1.5', true],
    ['192.168.1.6', '192.168.1.5', false],
    ['evil.example', '127.0.0.1', false],
    ['localhost.evil.example', undefined, false],
    ['box.lan', undefined, true],
    ['a.b.corp.example', undefined, true],
    ['corp.example.evil', undefined, false],
  ])('%s reached on %s → %s', (name, local, allowed) => {
    expect(isAllowedHost(name, local, ['box.lan', '.corp.example'])).toBe(allowed);
  });
});
