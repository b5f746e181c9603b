import { defineConfig } from 'vitest/config';

// One project per workspace; each workspace's vitest.config.ts says how its tests run.
export default defineConfig({
  test: {
    projects: ['packages/hypervisor', 'apps/server', 'apps/web'],
    // Tests boot real guests and change host-wide state (bridges, one nftables table): one test
    // file at a time across all projects, so no test sees another's devices.
    maxWorkers: 1,
  },
});
