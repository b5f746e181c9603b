import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ENV = 'CTP_TEST_ACCELERATOR_CACHE';

/**
 * The accelerator cache shared by every QEMU driver of one test run (pass it as the driver's
 * `acceleratorCacheFile`), so the KVM probe (up to 4 s) runs once per run, not once per file.
 * Undefined outside a run with the global setup below: each driver then probes for itself.
 */
export function testAcceleratorCache(): string | undefined {
  return process.env[ENV];
}

/** Vitest global setup: a fresh cache file for this run, handed to the test workers by environment. */
export default function setup(): () => void {
  if (process.env[ENV]) return () => {};
  const dir = mkdtempSync(path.join(tmpdir(), 'ctp-test-accel-'));
  process.env[ENV] = path.join(dir, 'accelerator.json');
  return () => rmSync(dir, { recursive: true, force: true });
}
