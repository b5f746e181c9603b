import { defineConfig } from 'vitest/config';

// One project per workspace (each workspace's vitest.config.ts says how its tests run), and the
// browser tests apart. The database tests are the projects `server` and `e2e`: every file there
// opens the database (PGlite, or the server DATABASE_URL names); `npm run test:db` runs only them.
// The full-OS tests (project `fullos`: Debian guests that take minutes to boot under TCG) run in
// `npm test` only: what they prove does not depend on the database engine.
export default defineConfig({
  test: {
    projects: [
      'packages/hypervisor',
      'apps/server',
      'apps/server/vitest.fullos.config.ts',
      'apps/web',
      'apps/web/vitest.e2e.config.ts',
      'apps/cli',
    ],
    // Tests boot real guests and change host-wide state (bridges, one nftables table): one test
    // file at a time across all projects, so no test sees another's devices.
    maxWorkers: 1,
  },
});
