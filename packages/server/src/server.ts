// buildServer(): a Fastify app over one store file, bound safely; what `gradscope serve` runs.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { checkOptions, DEFAULT_PORT, type OptionKeys } from '@gradscope/format';
import {
  isPostgresUrl,
  openReader,
  openRunReader,
  openStore,
  type RunReader,
  type Store,
} from '@gradscope/store';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { ServerError } from './errors.js';
import { type GradscopePluginOptions, gradscopePlugin, MAX_PARAM_LENGTH } from './plugin.js';

export interface ServerOptions {
  /** The store file (e.g. runs.gradscope). Created when ingest is on and it does not exist. */
  db: string;
  /** Default 127.0.0.1. Anything that is not loopback requires `token`. `[::1]` and `::1` are the same. */
  host?: string;
  /** Default DEFAULT_PORT (6174, not TensorBoard's 6006); 0 picks a free port. */
  port?: number;
  token?: string;
  viewerDir?: string;
  /** Accept snapshots over HTTP (POST /api/ingest). Default true. */
  ingest?: boolean;
  ingestLimit?: number;
  ingestInflightBytes?: number;
  pollMs?: number;
  /** See GradscopePluginOptions.allowedHosts; the name given as `host` is allowed too. */
  allowedHosts?: string[];
  /** See GradscopePluginOptions.cors. */
  cors?: string[];
  cacheBytes?: number;
  /**
   * Request and error logs (Fastify's pino, one JSON object a line). Default false: no logs (a library
   * embedding the server). `true` logs at 'info' to stdout; `{ level, stream }` picks both (`gradscope
   * serve` logs to stderr at `--log-level`, default info). Tokens, cookies and authorization headers are
   * never logged; a `token` query parameter is logged as `token=[redacted]`.
   */
  logger?: boolean | ServerLoggerOptions;
}

/** ServerOptions' keys: anything else given to buildServer is an error. */
const SERVER_OPTIONS = {
  db: true,
  host: true,
  port: true,
  token: true,
  viewerDir: true,
  ingest: true,
  ingestLimit: true,
  ingestInflightBytes: true,
  pollMs: true,
  allowedHosts: true,
  cors: true,
  cacheBytes: true,
  logger: true,
} as const satisfies OptionKeys<ServerOptions>;

/** Pino's levels, and 'silent'. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerLoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Where the JSON lines go; default stdout. */
  stream?: { write(line: string): unknown };
}

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:6006 */
  url: string;
  /** The store's reader: of the file, or of the database (a postgres:// `db`). */
  reader: RunReader;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** `[::1]` → `::1`; a dotted quad that is no IPv4 address (256.1.1.1) is refused rather than looked up. */
function checkHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === '' || /\s/.test(bare))
    throw new ServerError(
      'EINVAL',
      `--host must be a host name or an IP address, got ${JSON.stringify(host)}`,
    );
  if (host.startsWith('[') && isIP(bare) !== 6) {
    throw new ServerError('EINVAL', `--host ${host} is not an IPv6 address in brackets`);
  }
  if (/^[\d.]+$/.test(bare) && isIP(bare) !== 4) {
    throw new ServerError(
      'EINVAL',
      `--host ${host} is not an IPv4 address (four numbers 0-255, such as 127.0.0.1)`,
    );
  }
  return bare;
}

/** The token query parameter (`?token=` of the first page load, /api/events) never reaches a log. */
function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/** Fastify's logger options for ServerOptions.logger: pino, request URLs without tokens, secrets redacted. */
function loggerOptions(logger: ServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false;
  const o = logger === true ? {} : logger;
  if (typeof o !== 'object' || o === null) {
    throw new ServerError(
      'EINVAL',
      `logger must be true, false or { level, stream }, got ${JSON.stringify(logger)}`,
    );
  }
  const level = o.level ?? 'info';
  if (!LOG_LEVELS.includes(level)) {
    throw new ServerError(
      'EINVAL',
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(o.level)}`,
    );
  }
  return {
    level,
    ...(o.stream !== undefined ? { stream: o.stream } : {}),
    // Nothing that opens the server: whatever a serializer or a log call adds, these are censored.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.query.token',
        'res.headers["set-cookie"]',
        'headers.authorization',
        'headers.cookie',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
      }),
    },
  };
}

/**
 * The server's reader reads the file with pread() into a page cache of 16 MiB, not through a memory map: a
 * map's pages count in the server's RSS as far as the file has been read (48 MB after the issue 23 read
 * workload on an 807 MB file, and more on a larger one), the page cache is bounded. Measured the same on the
 * run page's queries with a warm cache (flow, series index, histograms, a table page, summaries: within 5%).
 */
const SERVER_READER = { mmapBytes: 0, pageCacheBytes: 16 * 2 ** 20 } as const;

/** Checks the options, opens the store, builds the app and starts listening. */
export async function buildServer(options: ServerOptions): Promise<RunningServer> {
  checkOptions(
    options ?? null,
    SERVER_OPTIONS,
    'buildServer',
    (message) => new ServerError('EINVAL', message),
  );
  const host = checkHost(options.host ?? '127.0.0.1');
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ServerError(
      'EINVAL',
      `--port must be an integer from 0 to 65535, got ${JSON.stringify(options.port)}`,
    );
  }
  if (options.token !== undefined && options.token.length < 8) {
    throw new ServerError('EINVAL', '--token must be at least 8 characters long');
  }
  if (!isLoopback(host) && options.token === undefined) {
    throw new ServerError(
      'EINVAL',
      `--host ${host} would expose the server beyond this machine: set a token (--token or GRADSCOPE_TOKEN) to allow it`,
    );
  }
  const logger = loggerOptions(options.logger);
  const allowedHosts = [...(options.allowedHosts ?? [])];
  if (isIP(host) === 0 && host !== 'localhost') allowedHosts.push(host);
  const pluginOptions: Omit<GradscopePluginOptions, 'reader'> = {
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.viewerDir !== undefined ? { viewerDir: options.viewerDir } : {}),
    ...(options.ingestLimit !== undefined ? { ingestLimit: options.ingestLimit } : {}),
    ...(options.ingestInflightBytes !== undefined
      ? { ingestInflightBytes: options.ingestInflightBytes }
      : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.cors !== undefined ? { cors: options.cors } : {}),
    ...(options.cacheBytes !== undefined ? { cacheBytes: options.cacheBytes } : {}),
    allowedHosts,
  };
  let store: Store | undefined;
  if (options.ingest !== false) store = await openStore(options.db);
  let reader: RunReader;
  try {
    // A store in PostgreSQL: the server holds no state of its own (runs' liveness by heartbeat, live updates
    // from the database's notifications), so several servers may share the database.
    reader = isPostgresUrl(options.db) ? openRunReader(options.db) : openReader(options.db, SERVER_READER);
  } catch (err) {
    await store?.close();
    throw err;
  }
  // maxParamLength: run names are up to 512 characters, longer once percent-encoded (Fastify's default 100
  // would answer 414). The 1 MiB bodyLimit is for JSON bodies; the ingest route sets its own.
  const app = Fastify({
    logger,
    // Every request gets an id of its own (not one a client sends): it is in each log line of the request
    // and in the body of a 5xx, so that an answer can be matched with its log line.
    genReqId: () => randomUUID(),
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });
  app.addHook('onClose', async () => {
    await store?.close();
    await reader.close();
  });
  try {
    await app.register(gradscopePlugin, { reader, ...(store ? { store } : {}), ...pluginOptions });
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    const code = (err as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      throw new ServerError(code, `--host ${host} is no host name this machine can resolve`);
    if (code === 'EADDRNOTAVAIL')
      throw new ServerError(code, `--host ${host} is not an address of this machine`);
    if (code === 'EADDRINUSE')
      throw new ServerError(code, `port ${port} on ${host} is already in use: pick another with --port`);
    if (err instanceof TypeError) throw new ServerError('EINVAL', err.message);
    throw err;
  }
  const address = app.server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { app, url: `http://${shown}:${actual}`, reader, close: () => app.close() };
}
