// Where the built viewer lives, for servers that serve it (plain JS: not built, usable before and after `vite build`).
import { fileURLToPath } from 'node:url';

/** Absolute path of the built viewer (`apps/viewer/dist`): index.html and assets/. */
export const viewerDir = fileURLToPath(new URL('./dist/', import.meta.url));
