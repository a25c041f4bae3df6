// buildServer(): a Fastify app over one store file, bound safely; what `gradscope serve` runs.
import { isIP } from 'node:net';
import { openReader, openStore, type Reader, type Store } from '@gradscope/store';
import Fastify, { type FastifyInstance } from 'fastify';
import { gradscopePlugin } from './plugin.js';

export interface ServerOptions {
  /** The store file (e.g. runs.gradscope). Created when ingest is on and it does not exist. */
  db: string;
  /** Default 127.0.0.1. Anything that is not loopback requires `token`. */
  host?: string;
  /** Default 6006; 0 picks a free port. */
  port?: number;
  token?: string;
  viewerDir?: string;
  /** Accept snapshots over HTTP (POST /api/ingest). Default true. */
  ingest?: boolean;
  ingestLimit?: number;
  pollMs?: number;
  logger?: boolean;
}

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:6006 */
  url: string;
  reader: Reader;
  close(): Promise<void>;
}

export class ServerConfigError extends Error {
  override name = 'ServerConfigError';
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** Checks the options, opens the store, builds the app and starts listening. */
export async function buildServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
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
  let store: Store | undefined;
  if (options.ingest !== false) store = await openStore(options.db);
  let reader: Reader;
  try {
    reader = openReader(options.db);
  } catch (err) {
    await store?.close();
    throw err;
  }
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 1 << 20 });
  await app.register(gradscopePlugin, {
    reader,
    ...(store ? { store } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.viewerDir !== undefined ? { viewerDir: options.viewerDir } : {}),
    ...(options.ingestLimit !== undefined ? { ingestLimit: options.ingestLimit } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
  app.addHook('onClose', async () => {
    await store?.close();
    reader.close();
  });
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { app, url: `http://${shown}:${actual}`, reader, close: () => app.close() };
}
