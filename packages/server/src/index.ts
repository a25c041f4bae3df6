// @gradscope/server: the HTTP API and viewer over a gradscope store.
export { type RequireTokenOptions, requireToken } from './auth.js';
export { DEFAULT_CACHE_BYTES, ResponseCache } from './cache.js';
export { ServerError, type ServerErrorCode } from './errors.js';
export {
  DEFAULT_INGEST_INFLIGHT_BYTES,
  DEFAULT_INGEST_LIMIT,
  type GradscopePluginOptions,
  gradscopePlugin,
  MAX_PARAM_LENGTH,
} from './plugin.js';
export {
  buildServer,
  isLoopback,
  LOG_LEVELS,
  type LogLevel,
  type RunningServer,
  type ServerLoggerOptions,
  type ServerOptions,
} from './server.js';
