// Makes sure Debian's PostgreSQL server binaries are installed for the store's PostgreSQL tests and bench
// (scripts/postgres.mjs starts a cluster of its own from them; no system service is used or started).
import { execFileSync } from 'node:child_process';
import { findPgBin } from './postgres.mjs';

if (findPgBin()) process.exit(0);
if (process.platform !== 'linux' || !execFileSync('sh', ['-c', 'command -v apt-get || true']).length) {
  console.error(
    'ensure-postgres: no PostgreSQL server binaries found (initdb, pg_ctl); install PostgreSQL ≥ 13 and set GRADSCOPE_PG_BIN to the directory that holds them',
  );
  process.exit(1);
}
const root = process.getuid?.() === 0;
const sudo = root ? [] : ['sudo', '-n'];
const run = (args) => {
  const [cmd, ...rest] = [...sudo, ...args];
  execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
console.error('ensure-postgres: installing Debian postgresql for the store tests…');
try {
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'postgresql']);
  // Debian's package creates and starts a cluster of its own; the tests never use it.
} catch (err) {
  console.error(
    `ensure-postgres: apt-get install postgresql failed (${err.message}); ${root ? '' : 'run as root or '}install it by hand`,
  );
  process.exit(1);
}
if (!findPgBin()) {
  console.error('ensure-postgres: postgresql installed but no initdb found under /usr/lib/postgresql/*/bin');
  process.exit(1);
}
