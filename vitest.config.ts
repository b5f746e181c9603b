import { defineConfig } from 'vitest/config';

// One project per workspace; each workspace's vitest.config.ts says how its tests run.
export default defineConfig({
  test: {
    projects: ['packages/hypervisor', 'apps/server'],
  },
});
