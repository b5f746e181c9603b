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
    // Full-OS guests (minutes each under TCG) are their own project: vitest.fullos.config.ts.
    exclude: ['src/**/*.fullos.test.ts'],
    pool: 'forks',
    isolate: false,
    fileParallelism: false,
    // The KVM probe once per run, shared by every file's QEMU driver.
    globalSetup: ['../../packages/hypervisor/src/test-support/accelerator-cache.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
