import { defineProject } from 'vitest/config';

// The browser tests: the real server (on the test database), real QEMU guests, Debian's Chromium.
// A project of their own so that CI's PostgreSQL pass (`npm run test:db`) can rerun them.
export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'e2e',
    include: ['e2e/**/*.test.ts'],
    environment: 'node',
    // The KVM probe once per run, shared by every file's QEMU driver.
    globalSetup: ['../../packages/hypervisor/src/test-support/accelerator-cache.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
