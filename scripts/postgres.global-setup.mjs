// vitest globalSetup: ONE PostgreSQL cluster of the tests' own per vitest run (scripts/postgres.mjs), its URL
// provided to every test file as inject('postgresUrl'); each file makes databases of its own in it
// (packages/store/src/test-util/backends.ts). Stopped and removed at teardown. Without PostgreSQL installed
// the URL is '' and the PostgreSQL tests fail saying how to install it (`node scripts/ensure-postgres.mjs`).
import { findPgBin, startCluster } from './postgres.mjs';

export default async function setup(project) {
  if (!findPgBin()) {
    project.provide('postgresUrl', '');
    return undefined;
  }
  const pg = await startCluster();
  project.provide('postgresUrl', pg.url);
  return () => pg.stop();
}
