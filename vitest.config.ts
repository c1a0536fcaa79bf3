import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests share one local Postgres; each file gets its own schema, so files may run in parallel.
    pool: 'forks',
    maxWorkers: 2,
  },
});
