import { defineConfig } from 'vitest/config';

// The fast unit tests (no database, no QEMU) of the modules under mutation testing
// (`npm run test:mutation`, stryker.config.mjs): Stryker runs them once per mutant.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    environment: 'node',
    include: [
      'apps/server/src/policy/policy.test.ts',
      'apps/server/src/services/template-validation.test.ts',
      'apps/server/src/services/template-validation.rules.test.ts',
      'apps/server/src/services/cidr.test.ts',
      'apps/server/src/services/token.service.test.ts',
    ],
  },
});
