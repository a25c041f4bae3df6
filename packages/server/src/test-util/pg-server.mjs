// A server process for the tests: serves the store at argv[2] (a postgres:// URL) on a free port, prints
// "listening <url>" and runs until it is killed.
import { buildServer } from '../../dist/index.js';

const server = await buildServer({ db: process.argv[2], port: 0 });
process.stdout.write(`listening ${server.url}\n`);
