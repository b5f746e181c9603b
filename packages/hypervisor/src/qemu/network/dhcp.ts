import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandRunner } from '../../command-runner.js';
import type { DhcpSpec } from '../../driver.js';

/** Where a bridge's dnsmasq keeps its pid and static leases (root-owned, per bridge). */
export const DHCP_RUN_DIR = '/run/ctp-dhcp';

function netmaskOf(bits: number): string {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 255).join('.');
}

/** The dnsmasq argv serving one lab bridge: DHCP only (no DNS), static leases only, bound to that bridge alone. */
export function dnsmasqArgs(bridge: string, spec: DhcpSpec, dir: string): string[] {
  const [network, bits] = spec.cidr.split('/') as [string, string];
  return [
    'dnsmasq',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${bridge}`,
    '--bind-interfaces',
    '--except-interface=lo',
    `--dhcp-range=${network},static,${netmaskOf(Number(bits))},1h`,
    `--dhcp-hostsfile=${path.join(dir, 'hosts')}`,
    '--leasefile-ro',
    '--dhcp-authoritative',
    // dnsmasq would offer itself as router and DNS: only what the template names.
    spec.gateway ? `--dhcp-option=option:router,${spec.gateway}` : '--dhcp-option=option:router',
    spec.dns?.length ? `--dhcp-option=option:dns-server,${spec.dns.join(',')}` : '--dhcp-option=option:dns-server',
    `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
  ];
}

/**
 * Starts the DHCP server of a lab bridge: gives the bridge the server's address (the isolation
 * table lets only DHCP through to the host from lab bridges) and runs dnsmasq on it alone.
 */
export async function startDhcp(run: CommandRunner, bridge: string, spec: DhcpSpec): Promise<void> {
  await stopDhcp(run, bridge);
  const dir = path.join(DHCP_RUN_DIR, bridge);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(path.join(dir, 'hosts'), spec.leases.map((l) => `${l.mac},${l.address},${l.hostname}\n`).join(''), { mode: 0o644 });
  const bits = spec.cidr.split('/')[1];
  await run(['ip', 'addr', 'replace', `${spec.serverAddress}/${bits}`, 'dev', bridge]);
  await run(dnsmasqArgs(bridge, spec, dir));
}

/** Stops a bridge's dnsmasq (if any) and removes its files; succeeds when there is none. */
export async function stopDhcp(run: CommandRunner, bridge: string): Promise<void> {
  const dir = path.join(DHCP_RUN_DIR, bridge);
  const pidFile = path.join(dir, 'dnsmasq.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  void run;
}
