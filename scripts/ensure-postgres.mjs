// Makes sure Debian's PostgreSQL server binaries are installed for the store's PostgreSQL tests and bench
// (scripts/postgres.mjs starts a cluster of its own from them; no system service is used or started).
import { aptInstall } from './apt.mjs';
import { findPgBin } from './postgres.mjs';

if (findPgBin()) process.exit(0);
if (process.env.GRADSCOPE_PG_BIN) {
  console.error(`ensure-postgres: GRADSCOPE_PG_BIN=${process.env.GRADSCOPE_PG_BIN} holds no initdb`);
  process.exit(1);
}
// Debian's package also creates and starts a cluster of its own; the tests never use it.
aptInstall('postgresql', 'ensure-postgres', 'the store tests');
if (!findPgBin()) {
  console.error('ensure-postgres: postgresql installed but no initdb found under /usr/lib/postgresql/*/bin');
  process.exit(1);
}
