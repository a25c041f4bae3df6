// The PostgreSQL schema's creation: several writers opening one new database at once (servers starting
// together) create the tables once, under the advisory lock, and all of them write.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../store.js';
import { postgresBackend } from '../test-util/backends.js';
import { runInfo, snapshot } from '../test-util/fixtures.js';
import { createPool } from './connection.js';
import { PG_SCHEMA_VERSION } from './schema.js';
import { COMMIT_TOKENS_MS, PgWriter } from './writer.js';

const postgres = postgresBackend();

describe('the PostgreSQL schema', () => {
  it('is created once when four writers open a new database at once; every writer then writes', async () => {
    for (let round = 0; round < 3; round++) {
      const url = await postgres.fresh();
      const stores = Array.from({ length: 4 }, () => openStore(url));
      await Promise.all(
        stores.map(async (store, i) => {
          await store.startRun(runInfo(`w${i}`));
          await store.write(snapshot({ run: `w${i}`, iteration: i }));
          await store.close();
        }),
      );
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const meta = await c.query("SELECT value FROM gradscope.meta WHERE key = 'schema_version'");
      const runs = await c.query(
        'SELECT r.id, count(s.id)::int AS n FROM gradscope.runs r JOIN gradscope.snapshots s ON s.run_key = r.key GROUP BY r.id ORDER BY r.id',
      );
      await c.end();
      expect(meta.rows).toEqual([{ value: String(PG_SCHEMA_VERSION) }]);
      expect(runs.rows).toEqual([0, 1, 2, 3].map((i) => ({ id: `w${i}`, n: 1 })));
    }
  });

  it("keeps commit tokens an hour: a writer's heartbeat forgets older ones, by the index on their age", async () => {
    const url = await postgres.fresh();
    await openStore(url).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const now = Date.now();
    await c.query(
      `INSERT INTO gradscope.commits (token, at) VALUES
         ('00000000-0000-4000-8000-000000000001', $1), ('00000000-0000-4000-8000-000000000002', $2)`,
      [now - COMMIT_TOKENS_MS - 1000, now - 1000],
    );
    const pool = createPool(url);
    await new PgWriter(pool, url).heartbeat();
    await pool.end();
    const left = await c.query('SELECT token FROM gradscope.commits ORDER BY token');
    const plan = await c.query('EXPLAIN SELECT 1 FROM gradscope.commits WHERE at < 0');
    await c.end();
    expect(left.rows).toEqual([{ token: '00000000-0000-4000-8000-000000000002' }]);
    expect(JSON.stringify(plan.rows)).toMatch(/commits_at/);
  });
});
