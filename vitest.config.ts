// One vitest run over every package: tests live beside the code they test.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'scripts/*.test.ts',
    ],
    // tfjs backends and native addons are process-global: one fork per test file.
    pool: 'forks',
    // One PostgreSQL cluster per run for the store's second provider (see the file).
    globalSetup: ['scripts/postgres.global-setup.mjs'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
