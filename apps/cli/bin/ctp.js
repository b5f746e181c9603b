#!/usr/bin/env node
// `ctp` from a checkout: runs the TypeScript source with tsx and the workspaces' `source` export
// condition (both must be given when node starts, hence the child process).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
