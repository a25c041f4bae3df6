// buildServer(): a Fastify app over one store file, bound safely; what `gradscope serve` runs.
import { isIP } from 'node:net';
import { checkOptions, type OptionKeys } from '@gradscope/format';
import { openReader, openStore, type Reader, type Store } from '@gradscope/store';
import Fastify, { type FastifyInstance } from 'fastify';
import { type GradscopePluginOptions, gradscopePlugin, MAX_PARAM_LENGTH } from './plugin.js';

export interface ServerOptions {
  /** The store file (e.g. runs.gradscope). Created when ingest is on and it does not exist. */
  db: string;
  /** Default 127.0.0.1. Anything that is not loopback requires `token`. `[::1]` and `::1` are the same. */
  host?: string;
  /** Default 6006; 0 picks a free port. */
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
  logger?: boolean;
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

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:6006 */
  url: string;
  reader: Reader;
  close(): Promise<void>;
}

export class ServerConfigError extends Error {
  override name = 'ServerConfigError';
  /** The system error code behind it (EADDRINUSE, ENOTFOUND, …), when there is one. */
  code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
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
    throw new ServerConfigError(`--host must be a host name or an IP address, got ${JSON.stringify(host)}`);
  if (host.startsWith('[') && isIP(bare) !== 6) {
    throw new ServerConfigError(`--host ${host} is not an IPv6 address in brackets`);
  }
  if (/^[\d.]+$/.test(bare) && isIP(bare) !== 4) {
    throw new ServerConfigError(
      `--host ${host} is not an IPv4 address (four numbers 0-255, such as 127.0.0.1)`,
    );
  }
  return bare;
}

/** Checks the options, opens the store, builds the app and starts listening. */
export async function buildServer(options: ServerOptions): Promise<RunningServer> {
  checkOptions(options ?? null, SERVER_OPTIONS, 'buildServer', (message) => new ServerConfigError(message));
  const host = checkHost(options.host ?? '127.0.0.1');
  const port = options.port ?? 6006;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ServerConfigError(
      `--port must be an integer from 0 to 65535, got ${JSON.stringify(options.port)}`,
    );
  }
  if (options.token !== undefined && options.token.length < 8) {
    throw new ServerConfigError('--token must be at least 8 characters long');
  }
  if (!isLoopback(host) && options.token === undefined) {
    throw new ServerConfigError(
      `--host ${host} would expose the server beyond this machine: set a token (--token or GRADSCOPE_TOKEN) to allow it`,
    );
  }
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
  let reader: Reader;
  try {
    reader = openReader(options.db);
  } catch (err) {
    await store?.close();
    throw err;
  }
  // maxParamLength: run names are up to 512 characters, longer once percent-encoded (Fastify's default 100
  // would answer 414). The 1 MiB bodyLimit is for JSON bodies; the ingest route sets its own.
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 1 << 20,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });
  app.addHook('onClose', async () => {
    await store?.close();
    reader.close();
  });
  try {
    await app.register(gradscopePlugin, { reader, ...(store ? { store } : {}), ...pluginOptions });
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    const code = (err as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      throw new ServerConfigError(`--host ${host} is no host name this machine can resolve`, code);
    if (code === 'EADDRNOTAVAIL')
      throw new ServerConfigError(`--host ${host} is not an address of this machine`, code);
    if (code === 'EADDRINUSE')
      throw new ServerConfigError(
        `port ${port} on ${host} is already in use: pick another with --port`,
        code,
      );
    if (err instanceof TypeError) throw new ServerConfigError(err.message);
    throw err;
  }
  const address = app.server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { app, url: `http://${shown}:${actual}`, reader, close: () => app.close() };
}
