// A PostgreSQL cluster of the tests' own: initdb into a temporary directory, pg_ctl on a free loopback port,
// trust authentication for the cluster's owner, removed on stop. Nothing of the machine's own PostgreSQL
// service is used. As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
//
//   import { startCluster } from './postgres.mjs';
//   const pg = await startCluster();   // pg.url: postgres://postgres@127.0.0.1:PORT/postgres
//   await pg.restart();                 // a fast shutdown and start on the same port (the tests' outage)
//   await pg.stop();
//
//   node scripts/postgres.mjs           # starts one, prints its URL, stops it on Ctrl-C
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The directory holding initdb and pg_ctl: GRADSCOPE_PG_BIN, the PATH, or Debian's newest /usr/lib/postgresql/N/bin. */
export function findPgBin() {
  const env = process.env.GRADSCOPE_PG_BIN;
  if (env) return existsSync(join(env, 'initdb')) ? env : null;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin/initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(base, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, 'initdb'))) return dir;
  return null;
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a cluster. `fsync: false` (the tests' default) trades durability across a machine crash, which no
 * test makes, for speed; the bench passes `fsync: true`.
 */
export async function startCluster({ fsync = false, log = false } = {}) {
  const bin = findPgBin();
  if (!bin) throw new Error('postgres: no initdb found; run `node scripts/ensure-postgres.mjs`');
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-pg-'));
  const data = join(dir, 'data');
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const as = (cmd, args, opts = {}) =>
    execFileSync(
      root ? 'runuser' : join(bin, cmd),
      root ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args,
      {
        stdio: log ? 'inherit' : 'pipe',
        ...opts,
      },
    );
  as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    `-c fsync=${fsync ? 'on' : 'off'}`,
    '-c max_connections=200',
    '-c shared_buffers=128MB',
  ].join(' ');
  const start = () =>
    as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', settings, '-w', '-t', '60', 'start']);
  start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already down
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => {
    if (!stopped) {
      try {
        as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    /** Stops the server (fast shutdown: connections are closed) without removing its data. */
    down: async () => as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    /** Starts it again on the same port. */
    up: async () => start(),
    restart: async () => {
      as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      start();
    },
    stop,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const pg = await startCluster();
  console.log(pg.url);
  process.on('SIGINT', async () => {
    await pg.stop();
    process.exit(0);
  });
  setInterval(() => {}, 1 << 30);
}
