// Vite build of the viewer: a static page with relative asset URLs, so any server can mount it under any prefix.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
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
