import { encodeMatrix, type SeriesResponse } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import { ApiError, type SeriesKey, type SnapshotInfo, type SnapshotPage } from './api';
import {
  decodeSeries,
  indexRows,
  mergeRows,
  partRowsAt,
  SeriesIndex,
  type SeriesSource,
} from './series-index';

const KEY: SeriesKey = { layer: 'lstm', kind: 'output-grad', part: null };

function info(id: number, iteration: number, over: Partial<SnapshotInfo> = {}): SnapshotInfo {
  return {
    id,
    run: 'r',
    iteration,
    epoch: 2,
    batch: 7,
    layer: 'lstm',
    layerClass: 'LSTM',
    kind: 'output-grad',
    part: null,
    channelParts: null,
    shape: [16, 100, 32],
    dims: ['sample', 'timestep', 'channel'],
    loss: iteration / 10,
    time: 1000 + iteration,
    nonFinite: 0,
    payloadBytes: 204_800,
    summary: {
      l2: iteration,
      maxAbs: 1,
      min: -1,
      max: 1,
      mean: 0,
      std: 0.5,
      nonFinite: 0,
      count: 51_200,
      horizon: 3,
      t0Ratio: 0.25,
    },
    ...over,
  };
}

const f64 = (xs: number[]) => encodeMatrix(Float64Array.from(xs), [xs.length]);

/** What the server's series route answers for `rows` (NaN for nulls), `count` stored. */
function seriesOf(rows: SnapshotInfo[], count = rows.length): SeriesResponse {
  const col = (f: (x: SnapshotInfo) => number | null) => f64(rows.map((x) => f(x) ?? Number.NaN));
  return {
    count,
    rows: rows.length,
    ids: col((x) => x.id),
    iterations: col((x) => x.iteration),
    time: col((x) => x.time),
    loss: col((x) => x.loss),
    l2: col((x) => x.summary.l2),
    maxAbs: col((x) => x.summary.maxAbs),
    min: col((x) => x.summary.min),
    max: col((x) => x.summary.max),
    mean: col((x) => x.summary.mean),
    std: col((x) => x.summary.std),
    nonFinite: col((x) => x.summary.nonFinite),
    horizon: col((x) => x.summary.horizon),
    t0Ratio: col((x) => x.summary.t0Ratio),
  };
}

/** A fake Api over `stored` (every row of every part), keeping each request it got. */
function source(
  stored: SnapshotInfo[],
  opts: { keep?: (x: SnapshotInfo) => boolean; noSeries?: boolean } = {},
) {
  const calls: string[] = [];
  const inKey = (x: SnapshotInfo, key: SeriesKey) =>
    x.layer === key.layer && x.kind === key.kind && (key.part === null || x.part === key.part);
  const src: SeriesSource = {
    async series(run, key, max) {
      calls.push(`series ${run} ${key.part ?? ''} max=${max}`);
      const own = stored.filter((x) => x.layer === key.layer && x.kind === key.kind && x.part === key.part);
      if (opts.noSeries || own.length === 0) throw new ApiError(404, 'no series');
      const kept = own.filter(opts.keep ?? (() => true));
      return seriesOf(kept, own.length);
    },
    async snapshotRows(run, key, page: SnapshotPage) {
      calls.push(`rows ${run} ${key.part ?? ''} ${JSON.stringify(page)}`);
      let rows = stored
        .filter((x) => inKey(x, key))
        .filter(
          (x) =>
            (page.from === undefined || x.iteration >= page.from) &&
            (page.to === undefined || x.iteration <= page.to),
        )
        .sort((a, b) => a.iteration - b.iteration || a.id - b.id);
      if (page.order === 'desc') rows.reverse();
      if (page.limit !== undefined) rows = rows.slice(page.offset ?? 0, (page.offset ?? 0) + page.limit);
      return rows;
    },
    async snapshot(id) {
      calls.push(`snapshot ${id}`);
      const hit = stored.find((x) => x.id === id);
      if (!hit) throw new ApiError(404, 'no snapshot');
      return hit;
    },
    async snapshots(run, key) {
      calls.push(`all ${run} ${key.part ?? ''}`);
      return stored.filter((x) => inKey(x, key));
    },
  };
  return { src, calls };
}

describe('decodeSeries', () => {
  it('decodes every column to float64 of `rows` values, NaN where the server had none', () => {
    const rows = [info(1, 10), info(2, 20, { loss: null })];
    const cols = decodeSeries(seriesOf(rows, 5));
    expect(cols.count).toBe(5);
    expect(cols.rows).toBe(2);
    expect([...cols.ids]).toEqual([1, 2]);
    expect([...cols.iterations]).toEqual([10, 20]);
    expect(cols.loss[0]).toBe(1);
    expect(Number.isNaN(cols.loss[1])).toBe(true);
    expect([...cols.l2]).toEqual([10, 20]);
  });

  it('refuses a column of the wrong length or dtype', () => {
    const bad = seriesOf([info(1, 10), info(2, 20)]);
    expect(() => decodeSeries({ ...bad, l2: f64([1]) })).toThrow(/column l2 is not 2 float64/);
    expect(() => decodeSeries({ ...bad, std: encodeMatrix(Float32Array.from([1, 2]), [2]) })).toThrow(
      /column std/,
    );
  });
});

describe('indexRows and mergeRows', () => {
  it('rebuilds the rows from the columns, the rest from the template', () => {
    const stored = [info(1, 10), info(2, 20, { loss: null, nonFinite: 3 }), info(3, 30)];
    stored[1]!.summary = { ...stored[1]!.summary, nonFinite: 3, horizon: null, t0Ratio: null };
    const rows = indexRows(decodeSeries(seriesOf(stored)), info(99, 0, { layerClass: 'GRU' }));
    expect(rows.map((x) => [x.id, x.iteration, x.time, x.loss])).toEqual([
      [1, 10, 1010, 1],
      [2, 20, 1020, null],
      [3, 30, 1030, 3],
    ]);
    expect(rows[1]!.nonFinite).toBe(3);
    expect(rows[1]!.summary).toEqual({ ...stored[1]!.summary, count: 51_200 });
    expect(rows[0]!.summary).toEqual(stored[0]!.summary);
    // What the index does not carry is the template's.
    expect(rows.every((x) => x.layerClass === 'GRU' && x.shape.join() === '16,100,32')).toBe(true);
  });

  it('merges exact rows by id, in (iteration, id) order', () => {
    const synth = [info(1, 10), info(5, 50)];
    const exact = info(5, 50, { layerClass: 'exact' });
    const merged = mergeRows(synth, [info(3, 30), exact]);
    expect(merged.map((x) => x.id)).toEqual([1, 3, 5]);
    expect(merged[2]).toBe(exact);
  });
});

describe('SeriesIndex', () => {
  const stored = Array.from({ length: 100 }, (_, i) => info(i + 1, (i + 1) * 10));

  it('loads the bounded index and one full row, never every row', async () => {
    const { src, calls } = source(stored);
    const index = await SeriesIndex.load(src, 'r', KEY, 2000);
    expect(index.count).toBe(100);
    expect(index.downsampled).toBe(false);
    expect(index.rows.map((x) => x.iteration)).toEqual(stored.map((x) => x.iteration));
    expect(index.rows[42]).toEqual(stored[42]);
    expect(calls.sort()).toEqual(['rows r  {"limit":1}', 'series r  max=2000']);
    // Not downsampled: nothing to look up.
    expect(await index.withIterations([15, 500])).toBe(index.rows);
    expect(calls).toHaveLength(2);
  });

  it('looks up the wanted iterations a downsampled index left out, once each', async () => {
    const { src, calls } = source(stored, { keep: (x) => x.id % 10 === 1 || x.id === 100 });
    const index = await SeriesIndex.load(src, 'r', KEY);
    expect(index.downsampled).toBe(true);
    expect(index.rows.map((x) => x.iteration)).toEqual([
      10, 110, 210, 310, 410, 510, 610, 710, 810, 910, 1000,
    ]);
    const rows = await index.withIterations([250, 110, 255]);
    expect(rows.map((x) => x.iteration)).toContain(250);
    expect(rows.find((x) => x.iteration === 250)).toEqual(stored[24]);
    expect(rows.map((x) => x.iteration).includes(255)).toBe(false);
    expect(calls.filter((c) => c.includes('"from"'))).toEqual([
      'rows r  {"from":250,"to":250}',
      'rows r  {"from":255,"to":255}',
    ]);
    await index.withIterations([250, 255]);
    expect(calls.filter((c) => c.includes('"from"'))).toHaveLength(2);
  });

  it('steps through every recorded iteration of a downsampled index, asking the server for each neighbour', async () => {
    const { src, calls } = source(stored, { keep: (x) => x.id % 10 === 1 || x.id === 100 });
    const index = await SeriesIndex.load(src, 'r', KEY);
    expect(index.downsampled).toBe(true);
    // The index holds 10, 110, 210, …: → from 110 goes to 120 (stored, not in the index), ← from 110 to 100.
    expect(await index.step([110], 1)).toEqual([120]);
    expect(await index.step([110], -1)).toEqual([100]);
    expect(calls.filter((c) => c.includes('limit":64'))).toEqual([
      'rows r  {"from":111,"limit":64}',
      'rows r  {"to":109,"order":"desc","limit":64}',
    ]);
    // The neighbour's row joined the index (the resolver sees it as recorded), exactly as stored.
    expect(index.rows.find((x) => x.iteration === 120)).toEqual(stored[11]);
    // Comparing two: the last one moves, never onto or past the one before it; nothing past either end.
    expect(await index.step([100, 110], 1)).toEqual([100, 120]);
    expect(await index.step([100, 110], -1)).toBeNull();
    expect(await index.step([1000], 1)).toBeNull();
    expect(await index.step([10], -1)).toBeNull();
  });

  it('steps over rows of other parts when the series is the whole output (the listing holds every part)', async () => {
    const parts = stored.flatMap((x) => [
      x,
      ...Array.from({ length: 70 }, (_, k) =>
        info(10_000 + x.id * 100 + k, x.iteration, { part: `forward/kernel/${k}` }),
      ),
    ]);
    const { src } = source(parts, { keep: (x) => x.id % 10 === 1 || x.id === 100 });
    const index = await SeriesIndex.load(src, 'r', KEY);
    expect(index.downsampled).toBe(true);
    expect(await index.step([110], 1)).toEqual([120]);
    expect(await index.step([110], -1)).toEqual([100]);
  });

  it('steps through the rows held when the index is complete, without asking', async () => {
    const { src, calls } = source(stored);
    const index = await SeriesIndex.load(src, 'r', KEY, 2000);
    const before = calls.length;
    expect(await index.step([110], 1)).toEqual([120]);
    expect(await index.step([110], -1)).toEqual([100]);
    expect(calls).toHaveLength(before);
  });

  it('takes the template by id when the first listed row is of another part', async () => {
    const gate = info(1, 10, { part: 'forward/kernel/i', shape: [4, 4], dims: ['input', 'unit'] });
    const whole = stored.map((x) => ({ ...x, id: x.id + 1 }));
    const { src, calls } = source([gate, ...whole]);
    const index = await SeriesIndex.load(src, 'r', KEY);
    expect(calls).toContain('snapshot 2');
    expect(index.rows.every((x) => x.part === null && x.shape.join() === '16,100,32')).toBe(true);
  });

  it('falls back to the full listing without the series route, and is empty for no rows', async () => {
    const { src, calls } = source(stored, { noSeries: true });
    const index = await SeriesIndex.load(src, 'r', KEY);
    expect(index.rows).toEqual(stored);
    expect(calls).toContain('all r ');
    const none = await SeriesIndex.load(source(stored).src, 'r', { ...KEY, layer: 'dense' });
    expect(none.count).toBe(0);
    expect(none.rows).toEqual([]);
  });

  it('pages a table through limit/offset', async () => {
    const { src, calls } = source(stored, { keep: (x) => x.id % 10 === 1 });
    const index = await SeriesIndex.load(src, 'r', KEY);
    const page = await index.page(3, 25);
    expect(page.map((x) => x.id)).toEqual(stored.slice(75, 100).map((x) => x.id));
    expect(calls).toContain('rows r  {"limit":25,"offset":75}');
  });

  it('rethrows errors other than 404', async () => {
    const { src } = source(stored);
    src.series = async () => {
      throw new ApiError(500, 'boom');
    };
    await expect(SeriesIndex.load(src, 'r', KEY)).rejects.toThrow('boom');
  });
});

describe('partRowsAt', () => {
  it('lists every wanted part at the given iterations only', async () => {
    const parts = ['forward/kernel/i', 'forward/kernel/f', 'backward/kernel/i'];
    const stored = [10, 20, 30].flatMap((it, k) =>
      parts.map((part, j) =>
        info(k * 10 + j + 1, it, { kind: 'weight', part, shape: [4, 4], dims: ['input', 'unit'] }),
      ),
    );
    const { src, calls } = source(stored);
    const rows = await partRowsAt(src, 'r', 'lstm', 'weight', parts.slice(0, 2), [30, 10]);
    expect(rows.map((x) => [x.iteration, x.part])).toEqual([
      [10, 'forward/kernel/i'],
      [10, 'forward/kernel/f'],
      [30, 'forward/kernel/i'],
      [30, 'forward/kernel/f'],
    ]);
    expect(calls.sort()).toEqual(['rows r  {"from":10,"to":10}', 'rows r  {"from":30,"to":30}']);
  });
});
