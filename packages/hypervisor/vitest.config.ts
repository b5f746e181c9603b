import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { name: 'hypervisor', environment: 'node', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
