// @gradscope/server: the HTTP API and viewer over a gradscope store.
export { requireToken } from './auth.js';
export { type GradscopePluginOptions, gradscopePlugin } from './plugin.js';
export {
  buildServer,
  isLoopback,
  type RunningServer,
  ServerConfigError,
  type ServerOptions,
} from './server.js';
