// The PostgreSQL provider against the SQLite one: the same writes (several runs, layers, kinds, parts,
// channel parts, iterations out of order, non-finite values, scalars with NaN, run management, a
// compaction) into a file and into a database, then every RunReader query of both compared, value for value
// and byte for byte. The SQLite provider's own tests check its answers against direct computations.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReader } from '../provider.js';
import { openRunReader } from '../reader.js';
import { openStore } from '../store.js';
import { postgresBackend, sqliteBackend } from '../test-util/backends.js';
import { runInfo, snapshot } from '../test-util/fixtures.js';
import type { Kind } from '../types.js';

const sqlite = sqliteBackend();
const postgres = postgresBackend();
afterAll(() => sqlite.cleanup());

/** Writes the same history into one store. */
async function history(target: string): Promise<void> {
  const store = openStore(target);
  await store.startRun({ ...runInfo('run-a', 'alpha'), group: 'g', params: { lr: 0.01, nested: { a: 1 } } });
  await store.startRun(runInfo('run-b', 'beta'));
  // run-a: two layers, three kinds, a part, bidirectional channel parts; iterations out of order.
  const order = Array.from({ length: 90 }, (_, i) => (i * 37) % 90);
  for (const it of order) {
    await store.write(
      snapshot({ run: 'run-a', iteration: it * 2, shape: [2, 6, 4], channelParts: ['forward', 'backward'] }),
    );
    await store.write(
      snapshot({
        run: 'run-a',
        iteration: it * 2,
        kind: 'input-grad',
        shape: [2, 6, 3],
        nonFinite: it % 7 === 0 ? 2 : 0,
      }),
    );
    if (it % 3 === 0)
      await store.write(
        snapshot({
          run: 'run-a',
          iteration: it * 2,
          layer: 'dense_1',
          layerClass: 'Dense',
          kind: 'weight-grad',
          part: 'kernel',
          shape: [4, 2],
          dims: ['input', 'unit'],
        }),
      );
  }
  await store.writeScalars(
    'run-a',
    Array.from({ length: 300 }, (_, i) => ({
      name: i % 2 ? 'loss' : 'acc',
      iteration: i >> 1,
      value: i % 17 === 0 ? Number.NaN : Math.sin(i),
      time: 1_764_000_000_000 + i,
    })),
  );
  // run-b: a few snapshots, a run made by snapshots alone (run-c), then management.
  for (let it = 0; it < 12; it++)
    await store.write(
      snapshot({ run: 'run-b', iteration: it, shape: [1, 5, 2], loss: it === 3 ? Number.NaN : 1 / (it + 1) }),
    );
  for (let it = 0; it < 4; it++)
    await store.write(snapshot({ run: 'run-c', iteration: it, shape: [3, 4], dims: ['sample', 'channel'] }));
  await store.endRun('run-b', 'finished');
  await store.tagRun('run-a', { params: { lr: null, momentum: 0.9 } });
  await store.updateRunMeta('alpha', { note: 'x' });
  await store.renameRun('run-b', 'beta-2');
  await store.compact({ every: 2, keepFirst: 3, runs: ['run-b'] });
  await store.close();
}

/** What every query answers, in one plain value (typed arrays as arrays, tensors as their bytes). */
async function answers(r: RunReader): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const plain = (v: unknown): unknown =>
    JSON.parse(
      JSON.stringify(v, (_k, x) =>
        ArrayBuffer.isView(x)
          ? Array.from(x as Float64Array).map(String)
          : typeof x === 'number'
            ? String(x)
            : x,
      ),
    );
  // End times and heartbeats are the writers' clocks: compared as present or not.
  out.runs = (await r.listRuns()).map((x) => ({ ...x, endedAt: x.endedAt === null }));
  for (const run of ['run-a', 'beta-2', 'run-c']) {
    const d = await r.requireRun(run);
    out[`run ${run}`] = { ...d, endedAt: d.endedAt === null };
    out[`layers ${run}`] = await r.listLayers(run);
    const snaps = await r.listSnapshots({ run });
    out[`snapshots ${run}`] = plain(snaps);
    out[`some ${run}`] = plain(
      await r.listSnapshots({
        run,
        kind: 'output-grad',
        from: 10,
        to: 60,
        order: 'desc',
        limit: 5,
        offset: 2,
      }),
    );
    out[`iterations ${run}`] = plain(await r.listSnapshots({ run, iterations: [0, 2, 4, 100] }));
    for (const s of snaps.filter((_, i) => i % 5 === 0)) {
      out[`summary ${s.id}`] = plain(await r.getSummary(s.id));
      out[`tensor ${s.id}`] = Buffer.from(await r.getTensor(s.id)).toString('base64');
      out[`decoded ${s.id}`] = plain((await r.readTensor(s.id)).shape);
    }
    for (const layer of await r.listLayers(run)) {
      for (const [kind, parts] of Object.entries(layer.kinds)) {
        for (const part of parts) {
          const key = { run, layer: layer.layer, kind: kind as Kind, part };
          for (const maxRows of [undefined, 1, 7, 20, 1000]) {
            const options = maxRows === undefined ? {} : { maxRows };
            const name = `${run} ${layer.layer} ${kind} ${part} ${maxRows}`;
            out[`flow ${name}`] = await Promise.resolve()
              .then(() => r.flowMatrix(key, options))
              .then(plain, (e: Error) => e.message.replace(r.path, ''));
            out[`hist ${name}`] = plain(await r.histogramSeries(key, options));
            out[`index ${name}`] = plain(await r.seriesIndex(key, options));
          }
        }
      }
    }
    for (const maxPoints of [undefined, 8, 40])
      out[`scalars ${run} ${maxPoints}`] = plain(
        await r.scalars(run, maxPoints === undefined ? {} : { maxPoints }),
      );
    out[`scalars named ${run}`] = plain(await r.scalars(run, { names: ['loss'] }));
  }
  out.after = plain(await r.snapshotsAfter(100, 50));
  out.integrity = await r.integrityCheck();
  return out;
}

describe('the PostgreSQL provider', () => {
  it('answers every query as the SQLite provider does for the same writes', async () => {
    const file = await sqlite.fresh();
    const url = await postgres.fresh();
    await history(file);
    await history(url);
    const a = openRunReader(file);
    const b = openRunReader(url);
    const fromFile = await answers(a);
    const fromPostgres = await answers(b);
    // The history is what it claims to be: compacted run-b, three runs, channel parts, scalars.
    expect((fromFile as { runs: unknown[] }).runs).toHaveLength(3);
    expect(Object.keys(fromFile as object).filter((k) => k.startsWith('flow ')).length).toBeGreaterThan(20);
    for (const key of Object.keys(fromFile as object)) {
      expect((fromPostgres as Record<string, unknown>)[key], key).toEqual(
        (fromFile as Record<string, unknown>)[key],
      );
    }
    expect(Object.keys(fromPostgres as object)).toEqual(Object.keys(fromFile as object));
    expect(await b.dataVersion()).toBeGreaterThan(0);
    await a.close();
    await b.close();
  });
});
