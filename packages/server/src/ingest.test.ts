// Remote ingest end to end: a real tfjs training logs through HttpSink into a real server, with a
// token, through an outage, and against a server that refuses it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gradientCallback, HttpSink, MemorySink, type Sink } from '@gradscope/capture';
import { openReader } from '@gradscope/store';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer } from './index.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'gradscope-ingest-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model() {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ units: 3, returnSequences: true, inputShape: [5, 2] }));
  m.add(tf.layers.gru({ units: 2 }));
  m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  return m;
}

const x = tf.randomNormal([4, 5, 2], 0, 1, 'float32', 1);
const y = tf.randomNormal([4, 2], 0, 1, 'float32', 2);

/** Writes to both sinks: the memory copy is what the server must end up holding. */
function tee(a: MemorySink, b: Sink): Sink {
  return {
    write: async (s) => {
      await a.write(s);
      await b.write(s);
    },
    startRun: async (r) => {
      await a.startRun(r);
      await b.startRun?.(r);
    },
    endRun: async (id, status) => {
      await a.endRun(id, status);
      await b.endRun?.(id, status);
    },
  };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('HttpSink → POST /api/ingest', () => {
  it('a training logged over HTTP with a token lands bit-exact in the server store', async () => {
    const db = join(dir, 'remote.gradscope');
    const token = 'remote-token-123';
    const server = await buildServer({ db, port: 0, token });
    const memory = new MemorySink();
    const http = new HttpSink({ url: server.url, token });
    const cb = gradientCallback({
      mode: 'batch',
      every: 1,
      capture: ['output-grad', 'weight'],
      sink: tee(memory, http),
      runName: 'remote',
      group: 'remote-group',
      params: { seed: 7 },
    });
    await model().fit(x, y, { epochs: 2, batchSize: 2, verbose: 0, callbacks: [cb] });
    await http.close();
    expect(http.stats()).toMatchObject({ failed: 0, queued: 0, sent: memory.snapshots.length + 2 }); // + run start and end
    await server.close();

    const reader = openReader(db);
    try {
      const run = reader.getRun('remote')!;
      expect(run).toMatchObject({ id: cb.runId, status: 'finished', snapshots: memory.snapshots.length });
      // The group and params (the callback's own and the user's) travel with the run start.
      expect(run.group).toBe('remote-group');
      expect(run.params).toEqual(memory.runs[0]!.params);
      expect(run.params).toMatchObject({ cell: 'LSTM+GRU', units: [3, 2], batchSize: 2, seed: 7 });
      const stored = reader.listSnapshots({ run: run.id });
      for (const s of memory.snapshots) {
        const row = stored.find(
          (r) =>
            r.iteration === s.iteration &&
            r.layer === s.layer &&
            r.kind === s.kind &&
            (r.part ?? undefined) === s.part,
        )!;
        expect(Array.from(reader.readTensor(row.id).data)).toEqual(Array.from(s.data));
      }
    } finally {
      reader.close();
    }
  });

  it('retries through an outage: a server that comes up later still gets everything', async () => {
    const db = join(dir, 'late.gradscope');
    const port = await freePort();
    const http = new HttpSink({ url: `http://127.0.0.1:${port}`, retryDelayMs: 100, attempts: 8 });
    const memory = new MemorySink();
    const cb = gradientCallback({ mode: 'batch', every: 2, sink: tee(memory, http) });
    const training = model().fit(x, y, { epochs: 2, batchSize: 2, verbose: 0, callbacks: [cb] });
    await training;
    const server = await buildServer({ db, port });
    try {
      await http.close();
      expect(http.stats().failed).toBe(0);
      expect(await server.reader.listSnapshots({ run: cb.runId })).toHaveLength(memory.snapshots.length);
    } finally {
      await server.close();
    }
  });

  it('gives up on a server that refuses the token: training finishes, close() says why', async () => {
    const server = await buildServer({
      db: join(dir, 'guarded.gradscope'),
      port: 0,
      token: 'the-real-token',
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const http = new HttpSink({ url: server.url, token: 'not-the-token', retryDelayMs: 1 });
      // One kind, named: the counts below do not follow the default capture.
      const cb = gradientCallback({ mode: 'batch', every: 1, capture: ['output-grad'], sink: http });
      const history = await model().fit(x, y, { epochs: 1, batchSize: 2, verbose: 0, callbacks: [cb] });
      expect(history.history.loss).toHaveLength(1);
      await expect(http.close()).rejects.toThrow(/HTTP 401.*wrong or missing token/);
      expect(http.stats().sent).toBe(0);
      // failed: the snapshots (2 steps × 2 layers) accepted and never stored; failedRequests: every request
      // given up on (run start, the 4 snapshots, the scalars batch, run end).
      expect(http.stats().failed).toBe(2 * 2);
      expect(http.stats().failedRequests).toBe(1 + 2 * 2 + 1 + 1);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
      await server.close();
    }
  });

  it("a fit's scalars reach the server through HttpSink: one loss per step, equal to the fit logs", async () => {
    const server = await buildServer({ db: join(dir, 'scalars.gradscope'), port: 0 });
    try {
      const http = new HttpSink({ url: server.url });
      const cb = gradientCallback({ mode: 'batch', every: 2, sink: http });
      const logged: number[] = [];
      const history = await model().fit(x, y, {
        epochs: 2,
        batchSize: 2,
        verbose: 0,
        callbacks: [
          cb,
          new tf.CustomCallback({
            onBatchEnd: async (_batch: number, logs?: tf.Logs) => void logged.push(logs!.loss as number),
          }),
        ],
      });
      await http.close();
      expect(history.history.loss).toHaveLength(2);
      expect(logged).toHaveLength(4); // 4 samples / batch 2 × 2 epochs
      const series = await server.reader.scalars(cb.runId);
      const loss = series.find((s) => s.name === 'loss')!;
      expect(loss.count).toBe(4);
      expect(Array.from(loss.iterations)).toEqual([1, 2, 3, 4]);
      for (const [i, v] of Array.from(loss.values).entries()) expect(v).toBeCloseTo(logged[i]!, 6);
    } finally {
      await server.close();
    }
  });

  it('a diverged loss keeps its value over HTTP: ±Infinity stay ±Infinity, NaN stays NaN', async () => {
    const server = await buildServer({ db: join(dir, 'diverged.gradscope'), port: 0 });
    try {
      const http = new HttpSink({ url: server.url });
      await http.writeScalars('diverged', [
        { iteration: 1, name: 'loss', value: 0.5, time: 1 },
        { iteration: 2, name: 'loss', value: Number.POSITIVE_INFINITY, time: 2 },
        { iteration: 3, name: 'loss', value: Number.NEGATIVE_INFINITY, time: 3 },
        { iteration: 4, name: 'loss', value: Number.NaN, time: 4 },
      ]);
      await http.close();
      const [loss] = await server.reader.scalars('diverged');
      expect(Array.from(loss!.iterations)).toEqual([1, 2, 3, 4]);
      expect(Array.from(loss!.values)).toEqual([
        0.5,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        Number.NaN,
      ]);
    } finally {
      await server.close();
    }
  });

  it('rejects a bad url at construction', () => {
    expect(() => new HttpSink({ url: 'localhost:6006' })).toThrow(
      'HttpSink: url must be http or https, got "localhost:6006"',
    );
    expect(() => new HttpSink({ url: 'nope' })).toThrow(
      'HttpSink: url must be an absolute http(s) URL, got "nope"',
    );
  });
});
