import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { NFT_TABLE } from '../qemu/network/bridge.network.js';

/** QEMU processes whose command line mentions `marker` (e.g. a state directory). */
export function qemuProcesses(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('qemu-system') && line.includes(marker))
    .map((line) => line.trim());
}

/** Network devices whose names the bridge backend uses (bridges `ctpb*`, taps `ctpt*`). */
export function ctpLinks(): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[];
  return links.map((l) => l.ifname).filter((name) => name.startsWith('ctpb') || name.startsWith('ctpt'));
}

/** Whether the isolation table exists. */
export function nftTableExists(): boolean {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(NFT_TABLE);
}

/** Everything the QEMU driver could leave behind under `stateDir` and on the host. */
export function qemuLeftovers(stateDir: string): string[] {
  // The accelerator probe's cached answer is the driver's, not a VM's.
  const files = existsSync(stateDir)
    ? readdirSync(stateDir, { recursive: true })
        .map(String)
        .filter((f) => f !== '.accelerator.json')
        .map((f) => `file ${f}`)
    : [];
  const links = ctpLinks().map((l) => `link ${l}`);
  return [
    ...qemuProcesses(stateDir).map((p) => `process ${p}`),
    ...files,
    ...links,
    ...(links.length === 0 && nftTableExists() ? ['nft table'] : []),
  ];
}
