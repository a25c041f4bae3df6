// The sink guard's scalars: a sink that answers on the event loop while fit never returns to it, and a
// sink that fails (a full disk).
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { gradientCallback, MemorySink, type ScalarPoint } from './index.js';
import { SinkGuard } from './sink.js';
import { randn, seeded } from './test-util/reference.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A MemorySink whose writeScalars settles on the event loop (as a store's commit acknowledgement or an HTTP
 * response does), not in the same turn: fit with only tf.Callback subclasses never returns to the event
 * loop, so none of them settles before the fit ends.
 */
class EventLoopSink extends MemorySink {
  calls = 0;
  override writeScalars(run: string, points: ScalarPoint[]): Promise<void> {
    this.calls++;
    return new Promise((resolve) => setImmediate(resolve)).then(() => super.writeScalars(run, points));
  }
}

describe('scalars through a sink that answers on the event loop', () => {
  it('every step of a 520-step fit is stored, with every validation and probe loss', async () => {
    const model = tf.sequential({ name: 'tiny' });
    model.add(tf.layers.simpleRNN({ units: 2, inputShape: [3, 1], name: 'rnn', ...seeded(5) }));
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.randomNormal({ seed: 6 }) }));
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = randn([260, 3, 1], 7);
    const y = randn([260, 1], 8);
    const probe = { x: randn([4, 3, 1], 9), y: randn([4, 1], 10) };
    const sink = new EventLoopSink();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const cb = gradientCallback({ every: 30, probe, sink, capture: ['output-grad'] });
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    // 2 epochs of 260 steps: 520 steps, 10 batches of 50 and a remainder, more than maxPendingWrites (8).
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 1,
      verbose: 0,
      validationData: [probe.x, probe.y],
      callbacks: [cb],
    });
    clearInterval(ticker);
    // The condition of the defect: the sink's answers could not arrive during the fit.
    expect(turns).toBeLessThan(5);
    const iterations = (name: string) => sink.scalars.filter((p) => p.name === name).map((p) => p.iteration);
    expect(iterations('loss')).toEqual(Array.from({ length: 520 }, (_, i) => i + 1));
    expect(iterations('val_loss')).toEqual([260, 520]);
    expect(iterations('probe/loss')).toEqual(Array.from({ length: 17 }, (_, i) => 30 * (i + 1)));
    expect(cb.stats).toMatchObject({ scalarsWritten: sink.scalars.length, scalarsDropped: 0 });
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('sink'))).toEqual([]);
    // The points that waited for a slot left together: a dozen calls, not one per batch of 50 steps.
    expect(sink.calls).toBeLessThanOrEqual(10);
  });
});

describe('scalars a sink cannot store', () => {
  const points = (from: number, n: number): ScalarPoint[] =>
    Array.from({ length: n }, (_, i) => ({ iteration: from + i, name: 'loss', value: i, time: 0 }));

  it('a sink that fails from the third batch on: every point counted once, said once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const stored: ScalarPoint[] = [];
    let calls = 0;
    const guard = new SinkGuard(
      {
        write: async () => {},
        writeScalars: async (_run, list) => {
          if (++calls > 2) throw new Error('SQLITE_FULL: database or disk is full');
          stored.push(...list);
        },
      },
      { onSinkError: 'warn', maxPendingWrites: 1, sinkTimeoutMs: 1000 },
    );
    for (let i = 0; i < 10; i++) {
      guard.sendScalars('r', Promise.resolve(points(i * 50 + 1, 50)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await guard.flush();
    expect(stored.map((p) => p.iteration)).toEqual(points(1, 100).map((p) => p.iteration));
    expect(guard.stats).toMatchObject({ scalarsWritten: 100, scalarsDropped: 400 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain('SQLITE_FULL: database or disk is full');
  });

  it('a sink that takes nothing: the points still waiting when flush gives up are dropped and counted', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const guard = new SinkGuard(
      { write: async () => {}, writeScalars: () => new Promise<void>(() => {}) },
      { onSinkError: 'warn', maxPendingWrites: 2, sinkTimeoutMs: 30 },
    );
    for (let i = 0; i < 5; i++) guard.sendScalars('r', Promise.resolve(points(i * 10 + 1, 10)));
    await guard.flush();
    // Two batches with the sink (their fate unknown), three waiting ones dropped.
    expect(guard.stats).toMatchObject({ scalarsWritten: 0, scalarsDropped: 30 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/2 batches still pending .* 30 scalar points/);
  });
});
