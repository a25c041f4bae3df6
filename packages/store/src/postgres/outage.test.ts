// The database going away under a store on PostgreSQL: a store opened while the server is still down waits
// for it and loses nothing; an outage longer than `unavailableMs` fails the operations caught in it with
// EUNAVAILABLE (surfacing as any failed commit of the file store does: the next flush rejects, naming the
// database without its password), and the store carries on once the server is back. A cluster of this
// file's own: stopping it must not disturb the other test files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRunReader } from '../reader.js';
import { openStore } from '../store.js';
import { runInfo, sleep, snapshot } from '../test-util/fixtures.js';

interface Cluster {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

let pg: Cluster;
beforeAll(async () => {
  const { startCluster } = (await import(
    new URL('../../../../scripts/postgres.mjs', import.meta.url).href
  )) as {
    startCluster(): Promise<Cluster>;
  };
  pg = await startCluster();
});
afterAll(() => pg?.stop());

describe('a store on PostgreSQL when the database goes away', () => {
  it('opened while the database is down, it waits for it and stores everything', async () => {
    await pg.down();
    const store = openStore(pg.url, { onError: () => {} });
    const written = store.startRun(runInfo()).then(() => store.write(snapshot({ iteration: 1 })));
    const flushed = written.then(() => store.flush());
    await sleep(1500);
    await pg.up();
    await flushed;
    await store.close();
    const r = openRunReader(pg.url);
    expect((await r.listSnapshots({ run: 'run-1' })).map((s) => s.iteration)).toEqual([1]);
    await r.close();
  });

  it('an outage longer than unavailableMs fails what it caught with EUNAVAILABLE; then the store carries on', async () => {
    const url = new URL(pg.url);
    url.password = 'pw-not-shown';
    const errors: string[] = [];
    const store = openStore(url.toString(), { unavailableMs: 1000, onError: (e) => errors.push(e.code) });
    await store.startRun(runInfo());
    await pg.down();
    await store.write(snapshot({ iteration: 2 }));
    const failure = await store.flush().then(
      () => undefined,
      (e: Error & { code?: string; file?: string }) => e,
    );
    expect(failure).toMatchObject({ code: 'EUNAVAILABLE' });
    expect(failure!.message).toContain(`postgres://postgres@127.0.0.1:${url.port}/postgres`);
    expect(failure!.message).not.toContain('pw-not-shown');
    expect(errors).toEqual(['EUNAVAILABLE']);
    await pg.up();
    await store.write(snapshot({ iteration: 3 }));
    await store.flush();
    await store.close();
    const r = openRunReader(pg.url);
    // The first test's snapshot, not the one the outage caught, and the one after it.
    expect((await r.listSnapshots({ run: 'run-1' })).map((s) => s.iteration)).toEqual([1, 3]);
    await r.close();
  });

  it('a reader answers EUNAVAILABLE while the database is down, tensors and flows (binary COPY) included; then the same bytes', async () => {
    const r = openRunReader(pg.url);
    const [first] = await r.listSnapshots({ run: 'run-1' });
    const key = { run: 'run-1', layer: 'lstm_1', kind: 'output-grad' as const };
    const tensor = Buffer.from(await r.getTensor(first!.id));
    const flow = await r.flowMatrix(key);
    expect(tensor.byteLength).toBeGreaterThan(100);
    expect(Array.from(flow.iterations)).toEqual([1, 3]);
    await pg.down();
    for (const read of [() => r.getTensor(first!.id), () => r.flowMatrix(key), () => r.listRuns()])
      await expect(read()).rejects.toMatchObject({ code: 'EUNAVAILABLE' });
    await pg.up();
    expect(Buffer.from(await r.getTensor(first!.id))).toEqual(tensor);
    expect(await r.flowMatrix(key)).toEqual(flow);
    await r.close();
  });
});
