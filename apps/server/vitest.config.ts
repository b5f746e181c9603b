import { defineProject } from 'vitest/config';

// Server tests share one database per test process (PGlite takes seconds and ~760 MB to open),
// so every file runs in one fork, without module isolation, one after another.
export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'server',
    environment: 'node',
    include: ['src/**/*.test.ts'],
    pool: 'forks',
    isolate: false,
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
