// What the tests of several packages do with stores: a new database in the tests' PostgreSQL cluster, and
// everything a reader holds, in one plain value, to compare two stores (a copy with its original).
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const pg = createRequire(new URL('../packages/store/package.json', import.meta.url))('pg');

/** Creates a database of its own in `cluster` (a postgres:// URL of the tests' cluster); returns its URL. */
export async function createDatabase(cluster, prefix = 'gs') {
  if (!cluster) {
    throw new Error(
      'no PostgreSQL for the tests: install it with `node scripts/ensure-postgres.mjs` (vitest starts a cluster of its own)',
    );
  }
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: cluster });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(cluster);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Everything a RunReader holds of its runs: each run's record, its snapshot index entries without their ids
 * (a copy numbers its own), each tensor's stored bytes (base64), summaries, scalars, layers; and the flow
 * matrices of `flows` ([layer, kind, maxRows] per run; undefined where a run has none).
 */
export async function storeContents(reader, flows = []) {
  const out = {};
  for (const run of await reader.listRuns()) {
    out[`run ${run.id}`] = await reader.requireRun(run.id);
    const snaps = await reader.listSnapshots({ run: run.id });
    out[`snapshots ${run.id}`] = snaps.map(({ id: _, ...rest }) => rest);
    out[`tensors ${run.id}`] = await Promise.all(
      snaps.map(async (s) => Buffer.from(await reader.getTensor(s.id)).toString('base64')),
    );
    out[`summaries ${run.id}`] = await Promise.all(snaps.map((s) => reader.getSummary(s.id)));
    out[`scalars ${run.id}`] = await reader.scalars(run.id);
    out[`layers ${run.id}`] = await reader.listLayers(run.id);
    for (const [layer, kind, maxRows] of flows) {
      const flow = await Promise.resolve()
        .then(() => reader.flowMatrix({ run: run.id, layer, kind }, maxRows === undefined ? {} : { maxRows }))
        .catch(() => undefined);
      out[`flow ${run.id} ${layer} ${kind} ${maxRows}`] = flow && { ...flow, ids: flow.ids.length };
    }
  }
  return out;
}
