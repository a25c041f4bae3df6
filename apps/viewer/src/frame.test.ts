import { decodeMatrix, encodeMatrix } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import type { FlowResponse, HistogramsResponse, RunDetails, RunRecord, ScalarsResponse } from './api';
import type { DataCache } from './data';
import { boundOf, clipFlow, clipHistograms, clipScalars, frameBound, lossLast, RunFrame } from './frame';

const T = 3;
/** A flow of rows at `iterations`, norm(row r, t) = 10·r + t. */
function flow(iterations: number[]): FlowResponse {
  const norms = Float32Array.from(
    { length: iterations.length * T },
    (_, k) => 10 * Math.floor(k / T) + (k % T),
  );
  return {
    count: iterations.length,
    ids: iterations.map((_, i) => i + 1),
    iterations,
    timesteps: T,
    norms: encodeMatrix(norms, [iterations.length, T]),
    horizon: iterations.map((_, i) => i),
    t0Ratio: iterations.map((_, i) => i / 10),
    parts: { forward: encodeMatrix(norms, [iterations.length, T]) },
    partHorizons: { forward: { horizon: iterations.map(() => 1), t0Ratio: iterations.map(() => 0.5) } },
  };
}
function scalars(
  name: string,
  iterations: number[],
  count = iterations.length,
): ScalarsResponse['series'][number] {
  return {
    name,
    count,
    iterations: encodeMatrix(Float64Array.from(iterations)),
    values: encodeMatrix(Float64Array.from(iterations, (i) => 1 / (1 + i))),
    times: encodeMatrix(Float64Array.from(iterations, (i) => 1000 + i)),
  };
}

describe('one frame of a running run', () => {
  it('is bounded by the least advanced piece; pieces with nothing bound nothing', () => {
    expect(frameBound([320, 304, null, 300, undefined])).toBe(300);
    expect(frameBound([null])).toBeNull();
    expect(frameBound([])).toBeNull();
  });

  it('clips a flow to its rows up to the bound: iterations, ids, norms, horizons, parts', () => {
    const f = flow([0, 16, 32, 48]);
    const c = clipFlow(f, 40);
    expect(c.iterations).toEqual([0, 16, 32]);
    expect(c.ids).toEqual([1, 2, 3]);
    expect(c.count).toBe(3);
    expect(c.norms.shape).toEqual([3, T]);
    expect(Array.from(decodeMatrix(c.norms))).toEqual([0, 1, 2, 10, 11, 12, 20, 21, 22]);
    expect(Array.from(decodeMatrix(c.parts!.forward!))).toEqual([0, 1, 2, 10, 11, 12, 20, 21, 22]);
    expect(c.horizon).toEqual([0, 1, 2]);
    expect(c.t0Ratio).toEqual([0, 0.1, 0.2]);
    expect(c.partHorizons!.forward!.horizon).toEqual([1, 1, 1]);
    // Nothing after the bound, or no bound: the response itself.
    expect(clipFlow(f, 48)).toBe(f);
    expect(clipFlow(f, null)).toBe(f);
    expect(clipFlow(f, -1).iterations).toEqual([]);
  });

  it('clips histograms row by row', () => {
    const counts = Uint32Array.from([1, 2, 3, 4, 5, 6]);
    const h: HistogramsResponse = {
      count: 3,
      ids: [1, 2, 3],
      iterations: [0, 10, 20],
      edges: [null, 0, null],
      counts: encodeMatrix(counts, [3, 2]),
      percentiles: { p: [0, 100], values: encodeMatrix(Float32Array.from([0, 1, 2, 3, 4, 5]), [3, 2]) },
    };
    const c = clipHistograms(h, 10);
    expect(c.iterations).toEqual([0, 10]);
    expect(Array.from(decodeMatrix(c.counts))).toEqual([1, 2, 3, 4]);
    expect(Array.from(decodeMatrix(c.percentiles.values))).toEqual([0, 1, 2, 3]);
  });

  it('clips scalars; a downsampled series keeps its share of the stored count', () => {
    const res: ScalarsResponse = {
      series: [scalars('loss', [0, 1, 2, 3, 4]), scalars('val_loss', [0, 100, 200, 300], 40)],
    };
    const c = clipScalars(res, 2);
    expect(Array.from(decodeMatrix(c.series[0]!.iterations))).toEqual([0, 1, 2]);
    expect(Array.from(decodeMatrix(c.series[0]!.values))).toEqual([1, 1 / 2, 1 / 3]);
    expect(Array.from(decodeMatrix(c.series[0]!.times))).toEqual([1000, 1001, 1002]);
    expect(c.series[0]!.count).toBe(3);
    // 1 of 4 points kept, of 40 stored: 10.
    expect(c.series[1]!.count).toBe(10);
  });

  it("the loss it waits for is the batch loss and the probe loss, not validation's", () => {
    expect(lossLast({ series: [scalars('loss', [0, 50, 300]), scalars('probe/loss', [0, 320])] })).toBe(300);
    expect(lossLast({ series: [scalars('val_loss', [0, 10])] })).toBeNull();
  });

  it('reads each piece once and clips what the views read to the least advanced; a finished run is whole', async () => {
    const reads: string[] = [];
    const stored = new Map<string, FlowResponse>([
      ['lstm_1/output-grad', flow([0, 16, 32, 48])],
      ['lstm_1/jacobian', flow([0, 16, 32])],
    ]);
    const loss: ScalarsResponse = {
      series: [
        scalars(
          'loss',
          Array.from({ length: 41 }, (_, i) => i),
        ),
      ],
    };
    const data = {
      api: {},
      flow: async (_run: string, key: { layer: string; kind: string }) => {
        reads.push(`flow ${key.kind}`);
        return stored.get(`${key.layer}/${key.kind}`)!;
      },
      scalars: async (_run: RunRecord, n: number) => {
        reads.push(`scalars ${n}`);
        return loss;
      },
      histograms: async () => {
        throw new Error('not read');
      },
      partSnapshots: async () => [],
    } as unknown as DataCache;
    const record = { id: 'r', status: 'running' } as RunRecord;
    const input = {
      data,
      record,
      run: { id: 'r', status: 'running' } as RunDetails,
      snapshots: [0, 16, 32, 48].map((iteration) => ({ iteration })) as never,
      keys: [{ layer: 'lstm_1', kind: 'jacobian' as const, part: null }],
      diagnosisIteration: 48,
      lossPoints: 1000,
    };
    const frame = await RunFrame.of(input);
    // index 48, jacobian 32, diagnosis 48, loss 40: the jacobian is the least advanced.
    expect(frame.upTo).toBe(32);
    expect(frame.heldByLoss).toBe(false);
    expect(frame.snapshotsUpTo(input.snapshots).map((x) => x.iteration)).toEqual([0, 16, 32]);
    expect((await frame.flow('r', input.keys[0]!)).iterations).toEqual([0, 16, 32]);
    expect((await frame.flow('r', { layer: 'lstm_1', kind: 'output-grad', part: null })).iterations).toEqual([
      0, 16, 32,
    ]);
    const points = decodeMatrix((await frame.scalars(record, 1000)).series[0]!.iterations);
    expect(points[points.length - 1]).toBe(32);
    // The frame's own reads are reused: one jacobian flow, one loss read at 1000 points.
    expect(reads.filter((r) => r === 'flow jacobian')).toHaveLength(1);
    expect(reads.filter((r) => r === 'scalars 1000')).toHaveLength(1);
    // The loss behind every series: it bounds the frame, and says so.
    stored.set('lstm_1/jacobian', flow([0, 16, 32, 48]));
    const held = await RunFrame.of(input);
    expect([held.upTo, held.heldByLoss]).toEqual([40, true]);
    // A finished run: no bound, nothing read up front.
    reads.length = 0;
    const whole = await RunFrame.of({ ...input, run: { id: 'r', status: 'finished' } as RunDetails });
    expect(whole.upTo).toBeNull();
    expect(reads).toEqual([]);
  });
});

describe('which pieces bound a frame', () => {
  it('a series at most one capture behind, the loss at most 100 steps (two batches) behind; staler ones do not', () => {
    const captures = [0, 20, 40, 60, 80, 100];
    // A jacobian one capture behind (80) bounds; the loss at 80 too.
    expect(boundOf([100, 80, 100], 80, captures)).toEqual({ upTo: 80, heldByLoss: false });
    // Every series at 100, the loss batch at 60: it holds the page (40 steps behind, within a batch).
    expect(boundOf([100, 100], 60, captures)).toEqual({ upTo: 60, heldByLoss: true });
    // A kind last recorded at 20 (two captures or more behind) has stopped: it bounds nothing.
    expect(boundOf([100, 20, 100], 100, captures)).toEqual({ upTo: 100, heldByLoss: false });
    // A loss 120 steps behind, more than two batches and a capture: no longer sent, it bounds nothing.
    expect(boundOf([220, 220], 100, [...captures, 120, 140, 160, 180, 200, 220])).toEqual({
      upTo: 220,
      heldByLoss: false,
    });
    // Captures every 200 steps: a loss 150 behind is within one capture, it bounds.
    expect(boundOf([400, 400], 250, [0, 200, 400])).toEqual({ upTo: 250, heldByLoss: true });
    // Nothing recorded but the loss.
    expect(boundOf([null], 5, [])).toEqual({ upTo: 5, heldByLoss: false });
  });
});
