import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'hypervisor',
    environment: 'node',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Real VMs, bridges and one host-wide nftables table: one file at a time.
    fileParallelism: false,
    // The KVM probe once per run, shared by every file's QEMU driver.
    globalSetup: ['src/test-support/accelerator-cache.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
