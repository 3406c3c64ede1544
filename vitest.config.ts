import { defineConfig } from 'vitest/config';

// Dawn is a native module: run test files in forked processes, not worker threads. Lavapipe already spreads one
// dispatch over every core, so two files at a time is enough.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
