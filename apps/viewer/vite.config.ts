// Vite build of the viewer: a static page with relative asset URLs, so any server can mount it under any prefix.
// Every text asset is also written pre-compressed (.br, .gz) for servers that send those when asked
// (@fastify/static's `preCompressed`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const COMPRESSIBLE = /\.(js|css|html|svg|json|txt)$/;

/** Writes `file.br` and `file.gz` beside every compressible file of the bundle. */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'gradscope-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle(_options, bundle) {
      for (const name of Object.keys(bundle)) {
        if (!COMPRESSIBLE.test(name)) continue;
        const path = join(outDir, name);
        const bytes = readFileSync(path);
        writeFileSync(
          `${path}.br`,
          brotliCompressSync(bytes, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: 11,
              [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
            },
          }),
        );
        writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [precompress()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One chunk for the page: the app is small and loading it in one request keeps first paint simple.
    chunkSizeWarningLimit: 1200,
  },
  server: {
    // `pnpm --filter @gradscope/viewer dev` against a running `gradscope serve` (default port below).
    proxy: { '/api': process.env.GRADSCOPE_SERVER ?? 'http://127.0.0.1:4040' },
  },
});
