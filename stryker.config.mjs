// Mutation testing (`npm run test:mutation`): Stryker changes the code of the modules whose rules
// matter most (one mutant at a time) and reruns their fast unit tests; a mutant no test notices
// "survives". scripts/mutation-thresholds.mjs then holds each module to its own minimum score.
// Modules to add: scoring (once it exists); the console session rules (need a unit test without a database).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'apps/server/src/policy/policy.ts',
    'apps/server/src/services/template-validation.ts',
    'apps/server/src/services/cidr.ts',
    'apps/server/src/services/token.service.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
