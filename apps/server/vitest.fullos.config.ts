import { defineProject } from 'vitest/config';

// Full-OS guests on real QEMU (the Debian 12 image of scripts/build-debian-image.sh): minutes per
// boot under TCG, so apart from the `server` project. `npm test` runs them; `npm run test:db`
// (the PostgreSQL-server pass) does not: nothing they prove depends on the database engine.
export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'fullos',
    environment: 'node',
    include: ['src/**/*.fullos.test.ts'],
    pool: 'forks',
    isolate: false,
    fileParallelism: false,
    globalSetup: ['../../packages/hypervisor/src/test-support/accelerator-cache.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
