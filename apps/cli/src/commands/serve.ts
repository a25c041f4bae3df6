// gradscope serve <db>: the HTTP API and the viewer over one store file.
import { existsSync } from 'node:fs';
import { DEFAULT_PORT } from '@gradscope/format';
import type { LogLevel, RunningServer } from '@gradscope/server';
import { isPostgresUrl } from '@gradscope/store';
import { type Command, Option } from 'commander';
import { collect } from '../args.js';
import { UserError } from '../errors.js';

export interface ServeOptions {
  host: string;
  port: string;
  token?: string;
  ingest: boolean;
  /** Start a new, empty store when the file does not exist (else a missing file is an error: a typo). */
  create?: boolean;
  /** Origins allowed to call the API from a browser (CORS), exact: scheme, host and port. */
  cors?: string[];
  /** Host names (beside the bound address and localhost) the server answers to (DNS-rebinding check). */
  allowedHost?: string[];
  /** Request and error logs to stderr from this level ('silent': none); none when unset (the demo). */
  logLevel?: string;
}

/** The server names its options as the API does ("cors" option); the user typed the flag. */
const FLAG_OF: [RegExp, string][] = [
  [/^"cors" option/, '--cors'],
  [/^"allowedHosts" option/, '--allowed-host'],
];

function asFlags(message: string): string {
  for (const [pattern, flag] of FLAG_OF) if (pattern.test(message)) return message.replace(pattern, flag);
  return message;
}

export function parsePort(value: string, flag = '--port'): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new UserError(`${flag} must be an integer from 0 to 65535, got '${value}'`);
  return port;
}

/** Starts the server; errors in the options become one-line user errors. */
export async function startServer(db: string, opts: ServeOptions): Promise<RunningServer> {
  // Loaded here, not at the top: Fastify and its plugins take a second to load, which every other command
  // (list, export, …) would pay too.
  const [{ buildServer, ServerError }, { viewerDir }] = await Promise.all([
    import('@gradscope/server'),
    import('@gradscope/viewer'),
  ]);
  try {
    return await buildServer({
      db,
      host: opts.host,
      port: parsePort(opts.port),
      ingest: opts.ingest,
      viewerDir,
      // One JSON line per request and per error, to stderr (stdout says where to open the viewer).
      ...(opts.logLevel ? { logger: { level: opts.logLevel as LogLevel, stream: process.stderr } } : {}),
      ...(opts.token ? { token: opts.token } : {}),
      ...(opts.cors?.length ? { cors: opts.cors } : {}),
      ...(opts.allowedHost?.length ? { allowedHosts: opts.allowedHost } : {}),
    });
  } catch (err) {
    // buildServer names a port in use, an address not of this machine and a bad option (ServerError).
    if (err instanceof ServerError) throw new UserError(asFlags(err.message));
    throw err;
  }
}

/** A file to serve exists, or --create asks for a new store there; a missing file is likely a typo. */
export function checkServedFile(db: string, create: boolean): void {
  // A store in PostgreSQL is created in its database on first use.
  if (create || isPostgresUrl(db) || existsSync(db)) return;
  throw new UserError(
    `${db} does not exist: check the path, or pass --create to start a new, empty store there (for trainers logging in over HTTP)`,
  );
}

/** The URL to open: with the token, which the page trades for a cookie on first load. */
export function openUrl(server: RunningServer, token: string | undefined, hash = ''): string {
  return `${server.url}/${token ? `?token=${encodeURIComponent(token)}` : ''}${hash}`;
}

/** Resolves on Ctrl-C or SIGTERM. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the viewer and the HTTP API (docs/api.md) for a gradscope database')
    .argument('<db>', 'database file (it must exist, unless --create), or a postgres:// URL')
    .option(
      '--create',
      'start a new, empty store when the file does not exist (for remote trainers to log into)',
    )
    .option('--host <host>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', String(DEFAULT_PORT))
    .option('--token <token>', 'require this bearer token on every request (default: $GRADSCOPE_TOKEN)')
    .option('--no-ingest', 'refuse snapshots sent over HTTP (POST /api/ingest)')
    .option(
      '--cors <origin>',
      'let pages of this exact origin (e.g. http://localhost:5173) call the API from a browser; repeatable',
      collect,
    )
    .option(
      '--allowed-host <name>',
      'also answer requests whose Host header is this name (beside the bound address and localhost); repeatable',
      collect,
    )
    .addOption(
      new Option('--log-level <level>', 'request and error logs (JSON lines) to stderr from this level')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async (db: string, opts: ServeOptions) => {
      const token = opts.token ?? process.env.GRADSCOPE_TOKEN;
      checkServedFile(db, opts.create === true);
      const server = await startServer(db, { ...opts, ...(token ? { token } : {}) });
      const stopped = untilStopped(); // listening before the URL is out: Ctrl-C always closes cleanly
      process.stdout.write(
        `gradscope: serving ${server.reader.path}\n  open ${openUrl(server, token)}\n  Ctrl-C to stop\n`,
      );
      await stopped;
      await server.close();
    });
}
