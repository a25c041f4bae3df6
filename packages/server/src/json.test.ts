// The JSON helpers: non-finite numbers become null at any depth, the response serializer falls back to that
// copy only when Fastify's own serializer refuses a NaN, the Host names the DNS-rebinding check allows, and
// the matrices of the routes are the format's encodeMatrix (one codec both ends).
import { decodeMatrix, encodeMatrix } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import { hostName, isAllowedHost } from './host.js';
import { buildServer } from './index.js';
import * as json from './json.js';
import { finiteSerializerCompiler, withFiniteNumbers } from './json.js';
import { C, N, request, snapshot, storeWith, T } from './test-util/fixture.js';

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

describe('route matrices', () => {
  it("flow, histogram, series and scalars matrices are encodeMatrix's bytes, decoded to the stored values", async () => {
    expect('matrix' in json).toBe(false);
    const fx = await storeWith([20, 200]);
    await fx.store.writeScalars('run-1', [
      { iteration: 20, name: 'loss', value: 0.25, time: 5 },
      { iteration: 200, name: 'loss', value: Number.NaN, time: 6 },
    ]);
    const server = await buildServer({ db: fx.db, port: 0, ingest: false });
    try {
      const key = { run: 'run-1', layer: 'lstm_1', kind: 'output-grad' as const, part: null };
      const flow = await request(`${server.url}/api/runs/run-1/flow?layer=lstm_1&kind=output-grad`);
      expect(flow.status).toBe(200);
      const norms = (await server.reader.flowMatrix(key)).norms;
      expect(flow.body.norms).toEqual(encodeMatrix(norms, [2, T]));
      // Independently: the per-timestep L2 norm of snapshot(iteration) at each t.
      const decoded = decodeMatrix(flow.body.norms);
      for (const [row, it] of [20, 200].entries()) {
        const d = snapshot(it).data;
        for (let t = 0; t < T; t++) {
          let sum = 0;
          for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) sum += d[(n * T + t) * C + c]! ** 2;
          expect(decoded[row * T + t]!).toBeCloseTo(Math.sqrt(sum), 6);
        }
      }
      const hist = await request(`${server.url}/api/runs/run-1/histograms?layer=lstm_1&kind=output-grad`);
      const counts = (await server.reader.histogramSeries(key)).counts;
      expect(hist.body.counts).toEqual(encodeMatrix(counts, [2, counts.length / 2]));
      const series = await request(`${server.url}/api/runs/run-1/series?layer=lstm_1&kind=output-grad`);
      expect(Array.from(decodeMatrix(series.body.iterations))).toEqual([20, 200]);
      const scalars = await request(`${server.url}/api/runs/run-1/scalars`);
      const [loss] = scalars.body.series;
      expect(loss.iterations).toEqual(encodeMatrix(Float64Array.from([20, 200])));
      const values = decodeMatrix(loss.values);
      expect([values[0], Number.isNaN(values[1])]).toEqual([0.25, true]);
    } finally {
      await server.close();
      await fx.cleanup();
    }
  });
});
