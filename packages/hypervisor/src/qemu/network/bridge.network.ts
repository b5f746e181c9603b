import type { NetworkInfo, NetworkSpec } from '../../driver.js';
import type { CommandRunner } from '../../command-runner.js';
import { HypervisorError } from '../../errors.js';
import type { LabNetworkBackend } from './lab-network.js';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bridgeName, shortHash, tapName } from './names.js';
import { startDhcp, stopDhcp } from './dhcp.js';

/** Each lab bridge has its own isolation table, named after it: networks are made and removed in parallel, never rewriting a shared table. */
export const NFT_TABLE_PREFIX = 'ctp_isolation_';
const ALIAS_PREFIX = 'ctp-net:';

/** The nftables table (family inet) that isolates one lab bridge. */
export function nftTableOf(bridge: string): string {
  return `${NFT_TABLE_PREFIX}${bridge}`;
}

/**
 * The isolation rules of one lab bridge, as one atomic `nft -f` script that replaces its table:
 * nothing from the bridge reaches the host except DHCP requests, and nothing is routed into or
 * out of it. Its own segment's traffic stays (bridged frames seen by br_netfilter come in and go
 * out on the bridge itself). Rules name the bridge, so they can exist before it does.
 */
export function isolationScript(bridge: string): string {
  const table = nftTableOf(bridge);
  return `table inet ${table} {}
delete table inet ${table}
table inet ${table} {
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "${bridge}" udp sport 68 udp dport 67 accept
    iifname "${bridge}" drop
  }
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${bridge}" oifname != "${bridge}" drop
    oifname "${bridge}" iifname != "${bridge}" drop
  }
}
`;
}

/** An installation's tag for its devices, from its state directory: two platforms on one host never touch each other's networks. */
export function ownerOf(stateDir: string): string {
  return shortHash(path.resolve(stateDir), 8);
}

interface IpLink {
  ifname: string;
  ifalias?: string;
  master?: string;
}

/**
 * Lab networks as Linux bridges (root or CAP_NET_ADMIN): one bridge per network, one tap per NIC,
 * no address on the host side (except the DHCP server's, on networks that have one: `dhcp.ts`;
 * its isolation table lets only DHCP requests through to it). Each bridge's own nftables table
 * (`isolationScript`) drops its traffic to the host and anything routed into or out of it, so a
 * guest reaches only its own segment.
 * The network's name is kept in the bridge's alias (with the installation's tag, `owner`), so a
 * restarted driver finds its networks again and never sees another installation's.
 */
export class BridgeNetworkBackend implements LabNetworkBackend {
  readonly isolation = 'bridge' as const;
  // One operation at a time per bridge; different networks are made and removed in parallel
  // (when a class starts, every lab's network is made at once on a host busy with guests).
  private readonly queues = new Map<string, Promise<unknown>>();

  private readonly prefix: string;

  constructor(
    private readonly run: CommandRunner,
    private readonly owner: string,
  ) {
    this.prefix = `${ALIAS_PREFIX}${owner}:`;
  }

  async create(spec: NetworkSpec): Promise<NetworkInfo> {
    const bridge = bridgeName(this.owner, spec.name);
    return this.serial(bridge, async () => {
      const alias = `${this.prefix}${spec.name}${spec.group ? `|${spec.group}` : ''}`;
      // The bridge's isolation rules come first: it never exists without them.
      await this.run(['nft', '-f', '-'], { input: isolationScript(bridge) });
      // As few commands as possible (each costs a process start): add, tolerating "exists"
      // (a retried job), instead of listing the host's links first.
      const added = await this.run(['ip', 'link', 'add', bridge, 'type', 'bridge'], { okCodes: [0, 2] });
      if (added.code !== 0 && !added.stderr.includes('File exists')) {
        throw new HypervisorError('command_failed', `ip link add ${bridge} type bridge: ${added.stderr.trim()}`);
      }
      const existing = added.code !== 0;
      try {
        // No IPv6 link-local address on the host side of a lab segment (set before it goes up).
        disableIpv6(bridge);
        await this.run(['ip', 'link', 'set', 'dev', bridge, 'alias', alias, 'up']);
        if (spec.dhcp) await startDhcp(this.run, bridge, spec.dhcp);
      } catch (error) {
        await stopDhcp(this.run, bridge).catch(() => {});
        if (!existing) {
          await this.run(['ip', 'link', 'del', bridge]).catch(() => {});
          await this.run(['nft', '-f', '-'], { input: dropTableScript(bridge) }).catch(() => {});
        }
        throw error;
      }
      return { name: spec.name, ...(spec.group ? { group: spec.group } : {}) };
    });
  }

  async destroy(name: string): Promise<void> {
    const bridge = bridgeName(this.owner, name);
    return this.serial(bridge, async () => {
      await stopDhcp(this.run, bridge);
      for (const tap of portsOf(bridge)) await this.run(['ip', 'link', 'del', tap]).catch(() => {});
      if (linkExists(bridge)) await this.run(['ip', 'link', 'del', bridge]);
      // Its rules go last, once the bridge is gone.
      await this.run(['nft', '-f', '-'], { input: dropTableScript(bridge) });
    });
  }

  async list(): Promise<NetworkInfo[]> {
    return (await this.links('bridge'))
      .filter((l) => l.ifname.startsWith('ctpb') && l.ifalias?.startsWith(this.prefix))
      .map((l) => {
        const [name, group] = l.ifalias!.slice(this.prefix.length).split('|');
        return { name: name!, ...(group ? { group } : {}) };
      });
  }

  /** The bridge device of a network (for diagnostics and tests). */
  bridgeOf(network: string): string {
    return bridgeName(this.owner, network);
  }

  async attachNic(network: string, vmName: string, nicIndex: number, mac: string): Promise<string[]> {
    const bridge = bridgeName(this.owner, network);
    const tap = tapName(this.owner, vmName, nicIndex);
    if (!linkExists(bridge)) throw new HypervisorError('not_found', `network ${network} does not exist`);
    if (!linkExists(tap)) await this.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    // No IPv6 link-local address on the host side of a NIC either (set before it goes up): the
    // kernel would add one when the guest opens the tap and remove it when the guest goes. Every
    // such address change is a "network change" to Chromium on this host, which then aborts all
    // its requests in flight, even to 127.0.0.1 (net::ERR_NETWORK_CHANGED).
    disableIpv6(tap);
    // One command for the rest (`ip -batch` would not do: it cuts lines at the alias's `#`).
    await this.run(['ip', 'link', 'set', 'dev', tap, 'alias', `ctp-nic:${this.owner}:${vmName}#${nicIndex}`, 'master', bridge, 'up']);
    return [
      '-netdev',
      `tap,id=nic${nicIndex},ifname=${tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=nic${nicIndex},mac=${mac}`,
    ];
  }

  async detachNic(_network: string, vmName: string, nicIndex: number): Promise<void> {
    const tap = tapName(this.owner, vmName, nicIndex);
    if (linkExists(tap)) await this.run(['ip', 'link', 'del', tap]);
  }

  private async links(type?: 'bridge'): Promise<IpLink[]> {
    const { stdout } = await this.run(['ip', '-j', '-d', 'link', 'show', ...(type ? ['type', type] : [])]);
    return (JSON.parse(stdout || '[]') as IpLink[]).filter((l) => l.ifname.startsWith('ctp'));
  }

  private serial<T>(bridge: string, work: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(bridge) ?? Promise.resolve()).then(work, work);
    const settled = next.catch(() => {});
    this.queues.set(bridge, settled);
    void settled.then(() => {
      if (this.queues.get(bridge) === settled) this.queues.delete(bridge);
    });
    return next;
  }
}

// Whether a device exists, and a bridge's ports, read from sysfs: no `ip` process (every VM of a
// class start attaches its NICs at once on a busy host).
function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

function portsOf(bridge: string): string[] {
  try {
    return readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return [];
  }
}

/** Removes a bridge's isolation table; succeeds when there is none. */
function dropTableScript(bridge: string): string {
  return `table inet ${nftTableOf(bridge)} {}\ndelete table inet ${nftTableOf(bridge)}\n`;
}

/** `net.ipv6.conf.<device>.disable_ipv6=1`, written directly (no process); a host without IPv6 has nothing to disable. */
function disableIpv6(device: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${device}/disable_ipv6`, '1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
