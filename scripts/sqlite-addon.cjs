// Required (NODE_OPTIONS=--require) into every process and thread of scripts/on-node.mjs's test pass: loads the
// better-sqlite3 addon compiled for this Node (GRADSCOPE_SQLITE_ADDON) and registers it in the module cache
// under the path of the workspace's own addon (GRADSCOPE_SQLITE_REPLACES), where better-sqlite3 requires it
// from. A process on another Node ABI (GRADSCOPE_SQLITE_ABI) is left alone.
const Module = require('node:module');

const addon = process.env.GRADSCOPE_SQLITE_ADDON;
const replaces = process.env.GRADSCOPE_SQLITE_REPLACES;
if (
  addon &&
  replaces &&
  process.versions.modules === process.env.GRADSCOPE_SQLITE_ABI &&
  !require.cache[replaces]
) {
  const module = new Module(replaces, null);
  module.filename = replaces;
  process.dlopen(module, addon);
  module.loaded = true;
  require.cache[replaces] = module;
}
