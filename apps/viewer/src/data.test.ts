import { encodeMatrix, type SeriesResponse } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import { type Api, ApiError, type SeriesKey, type SnapshotInfo, type SnapshotPage } from './api';
import { DataCache } from './data';

function info(id: number, iteration: number, part: string | null = null): SnapshotInfo {
  return {
    id,
    run: 'r',
    iteration,
    epoch: 0,
    batch: 0,
    layer: 'lstm',
    layerClass: 'LSTM',
    kind: part ? 'weight' : 'output-grad',
    part,
    channelParts: null,
    shape: [2, 3],
    dims: ['sample', 'channel'],
    loss: 1,
    time: iteration,
    nonFinite: 0,
    payloadBytes: 24,
    summary: {
      l2: 1,
      maxAbs: 1,
      min: 0,
      max: 1,
      mean: 0.5,
      std: 0.1,
      nonFinite: 0,
      count: 6,
      horizon: null,
      t0Ratio: null,
    },
  };
}

/** A fake Api over 50 whole-output rows (index keeps every 10th) and two weight gates at 3 iterations. */
function fakeApi() {
  const calls: string[] = [];
  const whole = Array.from({ length: 50 }, (_, i) => info(i + 1, i + 1));
  const gates = [10, 20, 30].flatMap((it, k) => [info(100 + 2 * k, it, 'i'), info(101 + 2 * k, it, 'f')]);
  let failSeries = false;
  const f64 = (xs: number[]) => encodeMatrix(Float64Array.from(xs), [xs.length]);
  const api = {
    async series(_run: string, key: SeriesKey): Promise<SeriesResponse> {
      calls.push(`series ${key.kind}`);
      if (failSeries) throw new ApiError(500, 'down');
      const kept = whole.filter((x) => x.id % 10 === 1);
      const col = (f: (x: SnapshotInfo) => number | null) => f64(kept.map((x) => f(x) ?? Number.NaN));
      const s = (k: keyof SnapshotInfo['summary']) => col((x) => x.summary[k]);
      return {
        count: whole.length,
        rows: kept.length,
        ids: col((x) => x.id),
        iterations: col((x) => x.iteration),
        time: col((x) => x.time),
        loss: col((x) => x.loss),
        l2: s('l2'),
        maxAbs: s('maxAbs'),
        min: s('min'),
        max: s('max'),
        mean: s('mean'),
        std: s('std'),
        nonFinite: s('nonFinite'),
        horizon: s('horizon'),
        t0Ratio: s('t0Ratio'),
      };
    },
    async snapshotRows(_run: string, key: SeriesKey, page: SnapshotPage): Promise<SnapshotInfo[]> {
      calls.push(`rows ${key.kind} ${JSON.stringify(page)}`);
      const all = key.kind === 'weight' ? gates : whole;
      const rows = all.filter(
        (x) =>
          (page.from === undefined || x.iteration >= page.from) &&
          (page.to === undefined || x.iteration <= page.to),
      );
      return page.limit === undefined ? rows : rows.slice(page.offset ?? 0, (page.offset ?? 0) + page.limit);
    },
    async snapshot(id: number) {
      calls.push(`snapshot ${id}`);
      return whole.find((x) => x.id === id)!;
    },
    async snapshots(): Promise<SnapshotInfo[]> {
      throw new Error('the full listing must not be asked');
    },
  };
  return {
    data: new DataCache(api as unknown as Api),
    calls,
    fail: (v: boolean) => {
      failSeries = v;
    },
  };
}

const KEY: SeriesKey = { layer: 'lstm', kind: 'output-grad', part: null };

describe('DataCache over the bounded series index', () => {
  it('loads the index once, and the rows of wanted iterations it left out', async () => {
    const { data, calls } = fakeApi();
    const rows = await data.snapshots('r', KEY);
    expect(rows.map((x) => x.iteration)).toEqual([1, 11, 21, 31, 41]);
    const more = await data.snapshots('r', KEY, [25, 11]);
    expect(more.map((x) => x.iteration)).toEqual([1, 11, 21, 25, 31, 41]);
    expect((await data.seriesIndex('r', KEY)).count).toBe(50);
    expect(calls.filter((c) => c.startsWith('series'))).toHaveLength(1);
    expect(calls).toContain('rows output-grad {"from":25,"to":25}');
    expect(calls.some((c) => c.includes('"from":11'))).toBe(false);
  });

  it('asks again after a live event for the series, and after a failed load', async () => {
    const { data, calls, fail } = fakeApi();
    fail(true);
    await expect(data.snapshots('r', KEY)).rejects.toThrow('down');
    fail(false);
    await data.snapshots('r', KEY);
    data.forgetSnapshot({ run: 'r', layer: 'lstm', kind: 'output-grad', part: null, iteration: 51 });
    await data.snapshots('r', KEY);
    expect(calls.filter((c) => c.startsWith('series'))).toHaveLength(3);
  });

  it('lists the weights page rows at the compared iterations, cached per iteration set', async () => {
    const { data, calls } = fakeApi();
    const rows = await data.partSnapshots('r', 'lstm', 'weight', ['i', 'f'], [10, 30]);
    expect(rows.map((x) => `${x.iteration}${x.part}`)).toEqual(['10i', '10f', '30i', '30f']);
    await data.partSnapshots('r', 'lstm', 'weight', ['i', 'f'], [10, 30]);
    expect(calls).toHaveLength(2);
    const other = await data.partSnapshots('r', 'lstm', 'weight', ['i', 'f'], [20]);
    expect(other.map((x) => x.id)).toEqual([102, 103]);
    data.forgetSnapshot({ run: 'r', layer: 'lstm', kind: 'weight', part: 'i', iteration: 40 });
    await data.partSnapshots('r', 'lstm', 'weight', ['i', 'f'], [10, 30]);
    expect(calls).toHaveLength(5);
  });
});

describe('DataCache.runWithLayers', () => {
  it('asks for the run details and the layers at the same time, not one after the other', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const details = new Promise<void>((resolve) => {
      release = resolve;
    });
    const api = {
      async run(id: string) {
        calls.push(`run ${id}`);
        await details; // the details answer only once the layers were asked for too
        return { id, status: 'finished' };
      },
      async layers(id: string) {
        calls.push(`layers ${id}`);
        return [{ layer: 'lstm' }];
      },
    };
    const data = new DataCache(api as unknown as Api);
    const both = data.runWithLayers('r');
    // Both requests are out before either answer arrived.
    expect(calls).toEqual(['run r', 'layers r']);
    release();
    const [run, layers] = await both;
    expect(run).toMatchObject({ id: 'r', status: 'finished' });
    expect(layers.map((l) => l.layer)).toEqual(['lstm']);
    // Finished run and its layers are cached: no second request.
    await data.runWithLayers('r');
    expect(calls).toEqual(['run r', 'layers r']);
  });
});

describe('DataCache.flow and histograms', () => {
  function countingApi() {
    const calls: string[] = [];
    let failing = false;
    const api = {
      async flow(run: string, key: SeriesKey) {
        calls.push(`flow ${run} ${key.kind}`);
        await Promise.resolve();
        if (failing) throw new ApiError(500, 'down');
        return { iterations: [1], timesteps: 0 };
      },
      async histograms(run: string, key: SeriesKey) {
        calls.push(`histograms ${run} ${key.kind}`);
        await Promise.resolve();
        if (failing) throw new ApiError(500, 'down');
        return { iterations: [1] };
      },
    };
    return {
      data: new DataCache(api as unknown as Api),
      calls,
      fail: (v: boolean) => {
        failing = v;
      },
    };
  }

  it('makes one request for two concurrent reads of the same flow key', async () => {
    const { data, calls } = countingApi();
    const [a, b] = await Promise.all([data.flow('r', KEY), data.flow('r', KEY)]);
    expect(a).toBe(b);
    expect(calls).toEqual(['flow r output-grad']);
  });

  it('makes one request for two concurrent reads of the same histograms key', async () => {
    const { data, calls } = countingApi();
    const [a, b] = await Promise.all([data.histograms('r', KEY), data.histograms('r', KEY)]);
    expect(a).toBe(b);
    expect(calls).toEqual(['histograms r output-grad']);
  });

  it('asks again after a failed read and after a live event for the series', async () => {
    const { data, calls, fail } = countingApi();
    fail(true);
    await expect(data.flow('r', KEY)).rejects.toThrow('down');
    await expect(data.histograms('r', KEY)).rejects.toThrow('down');
    fail(false);
    await data.flow('r', KEY);
    await data.histograms('r', KEY);
    await data.flow('r', KEY);
    await data.histograms('r', KEY);
    expect(calls).toHaveLength(4);
    data.forgetSnapshot({ run: 'r', layer: 'lstm', kind: 'output-grad', part: null, iteration: 2 });
    await data.flow('r', KEY);
    await data.histograms('r', KEY);
    expect(calls).toHaveLength(6);
  });
});
