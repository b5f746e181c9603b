// Mutation testing (`npm run test:mutation`): Stryker changes the code of the modules whose rules
// matter most (one mutant at a time) and reruns their fast unit tests; a mutant no test notices
// "survives". scripts/mutation-thresholds.mjs then holds each module to its own minimum score.
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
    'apps/server/src/services/scoring.ts',
    'apps/server/src/services/answer-matching.ts',
    'apps/server/src/services/console-rules.ts',
    'apps/server/src/services/session-rules.ts',
  ],
  coverageAnalysis: 'perTest',
  // Incremental: the committed result file lets a run test only the mutants whose code or
  // covering tests changed since (seconds instead of ~15 minutes on a busy 2-core machine).
  // `npx stryker run --force` tests every mutant again and rewrites the file.
  incremental: true,
  incrementalFile: 'stryker-incremental.json',
  concurrency: 2,
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
