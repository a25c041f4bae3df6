// The writer's ANALYZE (maintenance.ts): a store that just took its first ANALYZE_FIRST snapshots has
// statistics the planner can use, before autovacuum gets to it, and none before.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../store.js';
import { postgresBackend } from '../test-util/backends.js';
import { runInfo, snapshot } from '../test-util/fixtures.js';
import { ANALYZE_FIRST } from './maintenance.js';

const postgres = postgresBackend();

/** pg_class's row estimate and the last ANALYZE of gradscope.snapshots. */
async function stats(url: string): Promise<{ reltuples: number; analyzed: boolean }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT c.reltuples, s.last_analyze IS NOT NULL AS analyzed FROM pg_class c
       JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'gradscope.snapshots'::regclass`,
    );
    return { reltuples: Number(rows[0].reltuples), analyzed: rows[0].analyzed as boolean };
  } finally {
    await c.end();
  }
}

describe("the PostgreSQL writer's ANALYZE", () => {
  it('runs once the writer has written ANALYZE_FIRST snapshots, counting all of them', async () => {
    const url = await postgres.fresh();
    // Autovacuum off for these tables, so that only the writer's ANALYZE can give statistics.
    const store = openStore(url);
    await store.startRun(runInfo('a'));
    await store.flush();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const t of ['snapshots', 'summaries', 'series', 'series_chunks', 'payloads'])
      await c.query(`ALTER TABLE gradscope.${t} SET (autovacuum_enabled = false)`);
    await c.end();
    for (let it = 0; it < ANALYZE_FIRST - 1; it++)
      store.write(snapshot({ run: 'a', iteration: it, shape: [1, 2, 2] }));
    await store.flush();
    expect(await stats(url)).toMatchObject({ analyzed: false });
    await store.write(snapshot({ run: 'a', iteration: ANALYZE_FIRST, shape: [1, 2, 2] }));
    await store.flush();
    // The ANALYZE runs beside the writes; close waits for it.
    await store.close();
    expect(await stats(url)).toEqual({ reltuples: ANALYZE_FIRST, analyzed: true });
  });
});
