import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandRunner } from '../command-runner.js';
import type { CloudInitSeed } from '../driver.js';

/**
 * Writes a cloud-init NoCloud seed: an ISO 9660 image labelled `cidata` holding `meta-data`,
 * `user-data` and `network-config`, made with `genisoimage` (Debian package `genisoimage`).
 * The files hold per-lab secrets (the generated password): they live only in the VM's state
 * directory, readable by root, and are removed as soon as the ISO exists.
 */
export async function writeSeedIso(target: string, seed: CloudInitSeed, run: CommandRunner): Promise<void> {
  // Beside the ISO, so that the argv is exact (tests) and a crash leaves nothing outside the VM's folder.
  const work = `${target}.files`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { mode: 0o700 });
  try {
    const files: [string, string][] = [
      ['meta-data', seed.metaData],
      ['user-data', seed.userData],
      ...(seed.networkConfig ? ([['network-config', seed.networkConfig]] as [string, string][]) : []),
    ];
    for (const [name, content] of files) writeFileSync(path.join(work, name), content, { mode: 0o600 });
    await run(
      ['genisoimage', '-quiet', '-output', target, '-volid', 'cidata', '-joliet', '-rock', ...files.map(([name]) => path.join(work, name))],
      { timeoutMs: 30_000 },
    );
    // Readable by root only: it holds the guest's password.
    if (existsSync(target)) chmodSync(target, 0o600);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
