// The gradscope Fastify plugin: the JSON/Arrow API over a store reader, live updates, remote ingest and
// the viewer's static files. It keeps to its own encapsulation context: register it in your own app,
// under a prefix if you like, and its Host check, token, CORS, CSP, error handler and response cache apply
// to its routes only.
import { fastifyCookie } from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import { checkOptions as checkKnownOptions, type OptionKeys } from '@gradscope/format';
import type { RunReader, RunWriter } from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { requireToken } from './auth.js';
import { DEFAULT_CACHE_BYTES, installResponseCache } from './cache.js';
import { pollChanges } from './changes.js';
import { errorHandler } from './errors.js';
import { EventHub } from './events.js';
import { checkAllowedHosts, checkHost } from './host.js';
import { finiteSerializerCompiler } from './json.js';
import { exportRoutes } from './routes/export.js';
import { ingestRoutes } from './routes/ingest.js';
import { outcomeRoutes } from './routes/outcomes.js';
import { readRoutes } from './routes/read.js';
import { runRoutes } from './routes/runs.js';

export interface GradscopePluginOptions {
  /** Where runs are read from. */
  reader: RunReader;
  /** Enables remote ingest (POST /api/ingest…): the store snapshots are written to. */
  store?: RunWriter;
  /** Required on every request when set (Authorization: Bearer, or ?token= once → cookie). */
  token?: string;
  /** The viewer's built files (apps/viewer/dist), served at the plugin's root. */
  viewerDir?: string;
  /** Largest accepted ingest body (one snapshot), bytes. Default 64 MiB (16 M float32 values). */
  ingestLimit?: number;
  /**
   * Bytes of ingest bodies received at once; beyond it ingest answers 503 with Retry-After. Default 64 MiB.
   * Each admitted body costs the server about twice its size until it is committed: the body, and the store's
   * copy of its payload.
   */
  ingestInflightBytes?: number;
  /** How often live updates look for new snapshots, ms. Default 500. */
  pollMs?: number;
  /**
   * Host names (besides localhost, loopback addresses and the address the server is reached on) that
   * requests may name in their Host header; `.example.org` allows its subdomains too. Default none.
   * Protects against DNS rebinding.
   */
  allowedHosts?: string[];
  /**
   * Origins (scheme://host[:port], exact) whose pages may call the API from the browser, such as a
   * trainer page using HttpSink. Default none: no CORS headers. `*` is refused.
   */
  cors?: string[];
  /** Bytes of response bodies the read cache keeps. Default 8 MiB; 0 turns it off. */
  cacheBytes?: number;
}

/** GradscopePluginOptions' keys: anything else (but Fastify's own register options) is an error. */
const PLUGIN_OPTIONS = {
  reader: true,
  store: true,
  token: true,
  viewerDir: true,
  ingestLimit: true,
  ingestInflightBytes: true,
  pollMs: true,
  allowedHosts: true,
  cors: true,
  cacheBytes: true,
} as const satisfies OptionKeys<GradscopePluginOptions>;
/** What Fastify's register() passes on to every plugin beside its own options. */
const REGISTER_OPTIONS = { prefix: true, logLevel: true, logSerializers: true } as const;

/** Default largest ingest body: 64 MiB, a 16 M-value float32 snapshot and its Arrow framing. */
export const DEFAULT_INGEST_LIMIT = 64 * 2 ** 20;
/** Default bytes of ingest bodies in flight at once: 64 MiB (about 128 MiB of server memory, see above). */
export const DEFAULT_INGEST_INFLIGHT_BYTES = 64 * 2 ** 20;
/**
 * The `maxParamLength` a Fastify app needs for every run name the store accepts (512 characters, each up
 * to 9 characters percent-encoded). buildServer() sets it; a host app registering the plugin should too.
 */
export const MAX_PARAM_LENGTH = 512 * 9;

/** Content-Security-Policy of every response: the viewer loads only its own files and talks only to us. */
const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  workerSrc: ["'self'", 'blob:'],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
};

async function gradscope(app: FastifyInstance, options: GradscopePluginOptions): Promise<void> {
  checkKnownOptions(options, { ...PLUGIN_OPTIONS, ...REGISTER_OPTIONS }, 'gradscopePlugin');
  const opts = checkOptions(options);
  const { reader, store } = opts;
  const maxParamLength = app.initialConfig.routerOptions?.maxParamLength ?? 100;
  if (maxParamLength < MAX_PARAM_LENGTH) {
    app.log.warn(
      `gradscope: this Fastify app's maxParamLength is ${maxParamLength}: run names longer than that answer 414; create it with { routerOptions: { maxParamLength: ${MAX_PARAM_LENGTH} } }`,
    );
  }

  // Order matters: the Host check first, then CORS (a preflight carries no token), then the token.
  app.addHook('onRequest', checkHost(opts.allowedHosts));
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(fastifyCookie);
  if (opts.cors.length > 0) {
    await app.register(fastifyCors, {
      origin: opts.cors,
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type'],
      credentials: false,
      maxAge: 600,
    });
  }
  if (opts.token !== undefined) {
    app.addHook('onRequest', requireToken(opts.token, { cookiePath: app.prefix === '' ? '/' : app.prefix }));
  }
  app.setErrorHandler(errorHandler);
  app.setSerializerCompiler(finiteSerializerCompiler());

  installResponseCache(app, reader, opts.cacheBytes);
  const hub = new EventHub(pollChanges(reader), opts.pollMs);
  // A store that says when anything is committed (PostgreSQL: by any server on the database) is polled then.
  const unwatch = reader.watch?.(() => hub.nudge());
  app.addHook('onClose', async () => {
    unwatch?.();
    hub.close();
  });

  readRoutes(app, { reader, hub });
  exportRoutes(app, { reader });
  outcomeRoutes(app, { reader });
  runRoutes(app, { store });
  if (store !== undefined) {
    ingestRoutes(app, {
      store,
      hub,
      bodyLimit: opts.ingestLimit,
      maxInflightBytes: opts.ingestInflightBytes,
    });
  }

  if (opts.viewerDir !== undefined) {
    await app.register(fastifyStatic, {
      root: opts.viewerDir,
      // '/' is the route below: @fastify/static's own index route finds no file once preCompressed is on.
      index: false,
      wildcard: false,
      // The viewer build writes .br/.gz beside each asset: sent when the client accepts them.
      preCompressed: true,
      cacheControl: false,
      // Content-hashed bundle files never change; the page that names them is revalidated every time.
      setHeaders: (reply, path) =>
        reply.header(
          'cache-control',
          /[\\/]assets[\\/][^\\/]+-[\w-]{8}\.\w+(\.br|\.gz)?$/.test(path)
            ? 'public, max-age=31536000, immutable'
            : 'no-cache',
        ),
    });
    // With preCompressed, @fastify/static registers no '/' route of its own (wildcard off): the page itself.
    if (!app.hasRoute({ method: 'GET', url: '/' }))
      app.get('/', (_req, reply) => reply.sendFile('index.html'));
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain').send('gradscope API: the viewer is not built (pnpm build), see /api/runs'),
    );
  }
}

type CheckedOptions = Required<
  Pick<
    GradscopePluginOptions,
    'reader' | 'ingestLimit' | 'ingestInflightBytes' | 'pollMs' | 'allowedHosts' | 'cors' | 'cacheBytes'
  >
> &
  Pick<GradscopePluginOptions, 'store' | 'token' | 'viewerDir'>;

/** Checks the plugin's options where they enter; each message names the option and what it must be. */
function checkOptions(o: GradscopePluginOptions): CheckedOptions {
  if (typeof o?.reader?.listRuns !== 'function') {
    throw new TypeError('"reader" option must be a RunReader (openReader(file), or another backend\'s)');
  }
  if (o.store !== undefined && typeof o.store.write !== 'function') {
    throw new TypeError(
      '"store" option must be a RunWriter (openStore(file), or another backend\'s) or undefined',
    );
  }
  if (o.token !== undefined && (typeof o.token !== 'string' || o.token === '')) {
    throw new TypeError('"token" option must be a non-empty string or undefined');
  }
  if (o.viewerDir !== undefined && typeof o.viewerDir !== 'string') {
    throw new TypeError('"viewerDir" option must be a directory path');
  }
  const positive = (name: string, v: unknown, fallback: number, min = 1) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TypeError(`"${name}" option must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const cors = o.cors ?? [];
  if (!Array.isArray(cors)) throw new TypeError('"cors" option must be an array of origins');
  for (const origin of cors) {
    if (origin === '*') {
      throw new TypeError(
        '"cors" option must list exact origins: "*" would let every website read this server',
      );
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(String(origin));
    } catch {}
    if (typeof origin !== 'string' || parsed?.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new TypeError(
        `"cors" option must hold origins such as "https://trainer.example.org" (scheme, host and port only), got ${JSON.stringify(origin)}`,
      );
    }
  }
  return {
    ...o,
    ingestLimit: positive('ingestLimit', o.ingestLimit, DEFAULT_INGEST_LIMIT),
    ingestInflightBytes: positive(
      'ingestInflightBytes',
      o.ingestInflightBytes,
      DEFAULT_INGEST_INFLIGHT_BYTES,
    ),
    pollMs: positive('pollMs', o.pollMs, 500),
    cacheBytes: positive('cacheBytes', o.cacheBytes, DEFAULT_CACHE_BYTES, 0),
    allowedHosts: checkAllowedHosts(o.allowedHosts),
    cors,
  };
}

/**
 * The gradscope routes as a Fastify plugin. Encapsulated (fastify-plugin's `encapsulate: true` keeps its
 * name and Fastify version check without lifting its hooks into the parent):
 * `app.register(gradscopePlugin, { prefix: '/gs', reader, token })`.
 */
export const gradscopePlugin = fp(gradscope, {
  fastify: '5.x',
  name: '@gradscope/server',
  encapsulate: true,
});
