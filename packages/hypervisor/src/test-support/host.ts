import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { NFT_TABLE_PREFIX, nftTableOf, ownerOf } from '../qemu/network/bridge.network.js';

/** QEMU processes whose command line mentions `marker` (e.g. a state directory). */
export function qemuProcesses(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('qemu-system') && line.includes(marker))
    .map((line) => line.trim());
}

interface Link {
  ifname: string;
  ifalias?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
}

function hostLinks(): Link[] {
  return JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show'], { encoding: 'utf8' })) as Link[];
}

/**
 * The network devices of one installation (`owner`, see `ownerOf`): its bridges (alias
 * `ctp-net:<owner>:…`) and its taps (alias `ctp-nic:<owner>:…`, or enslaved to one of its bridges).
 * Another installation's devices on the same host are not in this list.
 */
export function ownedLinks(owner: string): string[] {
  const links = hostLinks();
  const bridges = new Set(
    links.filter((l) => l.ifname.startsWith('ctpb') && l.ifalias?.startsWith(`ctp-net:${owner}:`)).map((l) => l.ifname),
  );
  const taps = links.filter(
    (l) => l.ifname.startsWith('ctpt') && (l.ifalias?.startsWith(`ctp-nic:${owner}:`) || (l.master !== undefined && bridges.has(l.master))),
  );
  return [...bridges, ...taps.map((l) => l.ifname)];
}

/** The bridges that have an isolation table (`ctp_isolation_<bridge>`, family inet). */
function bridgesWithTables(): string[] {
  const tables = execFileSync('nft', ['list', 'tables', 'inet'], { encoding: 'utf8' });
  return [...tables.matchAll(new RegExp(`table inet ${NFT_TABLE_PREFIX}(ctpb[0-9a-f]{8})\\b`, 'g'))].map((m) => m[1]!);
}

/** Whether the isolation table of a lab bridge exists. */
export function nftTableExists(bridge: string): boolean {
  return bridgesWithTables().includes(bridge);
}

/**
 * Stale isolation rules: every lab bridge has its own table (shared by no one), so a table whose
 * bridge is gone means a destroy did not clean up.
 */
export function staleNftRules(): string[] {
  const bridges = new Set(
    hostLinks()
      .map((l) => l.ifname)
      .filter((n) => n.startsWith('ctpb')),
  );
  return bridgesWithTables()
    .filter((b) => !bridges.has(b))
    .map((b) => `nft table ${nftTableOf(b)}`);
}

/**
 * What the QEMU driver left behind: processes and files under `stateDir`, the network devices of
 * its installation `owner` (by default the one its network backend derives from `stateDir`), and
 * stale isolation rules. Never another installation's devices, so this holds on a shared host.
 */
export function qemuLeftovers(stateDir: string, owner = ownerOf(stateDir)): string[] {
  // The accelerator probe's cached answer is the driver's, not a VM's.
  const files = existsSync(stateDir)
    ? readdirSync(stateDir, { recursive: true })
        .map(String)
        .filter((f) => f !== '.accelerator.json')
        .map((f) => `file ${f}`)
    : [];
  return [
    ...qemuProcesses(stateDir).map((p) => `process ${p}`),
    ...files,
    ...ownedLinks(owner).map((l) => `link ${l}`),
    ...staleNftRules(),
  ];
}
