import type { NetworkInfo, NetworkSpec } from '../../driver.js';
import type { CommandRunner } from '../../command-runner.js';
import { HypervisorError } from '../../errors.js';
import type { LabNetworkBackend } from './lab-network.js';
import path from 'node:path';
import { bridgeName, shortHash, tapName } from './names.js';
import { startDhcp, stopDhcp } from './dhcp.js';

export const NFT_TABLE = 'ctp_isolation';
const ALIAS_PREFIX = 'ctp-net:';

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
 * the isolation table lets only DHCP requests through to it). One nftables table drops traffic from lab bridges to the host
 * and anything routed into or out of a lab bridge, so a guest reaches only its own segment.
 * The network's name is kept in the bridge's alias (with the installation's tag, `owner`), so a
 * restarted driver finds its networks again and never sees another installation's.
 */
export class BridgeNetworkBackend implements LabNetworkBackend {
  readonly isolation = 'bridge' as const;
  // Rule regeneration reads the list of bridges: one at a time.
  private queue: Promise<unknown> = Promise.resolve();

  private readonly prefix: string;

  constructor(
    private readonly run: CommandRunner,
    private readonly owner: string,
  ) {
    this.prefix = `${ALIAS_PREFIX}${owner}:`;
  }

  async create(spec: NetworkSpec): Promise<NetworkInfo> {
    return this.serial(async () => {
      const bridge = bridgeName(this.owner, spec.name);
      const alias = `${this.prefix}${spec.name}${spec.group ? `|${spec.group}` : ''}`;
      // As few commands as possible: when a class starts, every lab's network is made here, one
      // after another, on a host busy with guests (each command costs a process start).
      const bridges = (await this.links('bridge')).map((l) => l.ifname);
      const existing = bridges.includes(bridge);
      try {
        if (!existing) await this.run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
        // No IPv6 link-local address on the host side of a lab segment (set before it goes up).
        await this.run(['sysctl', '-q', '-w', `net.ipv6.conf.${bridge}.disable_ipv6=1`], { okCodes: [0, 255] });
        await this.run(['ip', 'link', 'set', 'dev', bridge, 'alias', alias, 'up']);
        await this.applyRules(existing ? bridges : [...bridges, bridge]);
        if (spec.dhcp) await startDhcp(this.run, bridge, spec.dhcp);
      } catch (error) {
        await stopDhcp(this.run, bridge).catch(() => {});
        if (!existing) await this.run(['ip', 'link', 'del', bridge]).catch(() => {});
        throw error;
      }
      return { name: spec.name, ...(spec.group ? { group: spec.group } : {}) };
    });
  }

  async destroy(name: string): Promise<void> {
    return this.serial(async () => {
      const bridge = bridgeName(this.owner, name);
      await stopDhcp(this.run, bridge);
      const links = await this.links();
      for (const tap of links.filter((l) => l.master === bridge)) await this.run(['ip', 'link', 'del', tap.ifname]).catch(() => {});
      if (links.some((l) => l.ifname === bridge)) await this.run(['ip', 'link', 'del', bridge]);
      await this.applyRules();
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
    const links = await this.links();
    if (!links.some((l) => l.ifname === bridge)) throw new HypervisorError('not_found', `network ${network} does not exist`);
    if (!links.some((l) => l.ifname === tap)) await this.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
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
    if ((await this.links()).some((l) => l.ifname === tap)) await this.run(['ip', 'link', 'del', tap]);
  }

  /** Rewrites the isolation table (atomically) from the bridges that exist now (listed unless given), or removes it. */
  private async applyRules(known?: string[]): Promise<void> {
    const bridges = (known ?? (await this.links('bridge')).map((l) => l.ifname)).filter((n) => n.startsWith('ctpb'));
    const reset = `table inet ${NFT_TABLE} {}\ndelete table inet ${NFT_TABLE}\n`;
    if (bridges.length === 0) {
      await this.run(['nft', '-f', '-'], { input: reset });
      return;
    }
    const forward = bridges.flatMap((b) => [`    iifname "${b}" oifname != "${b}" drop`, `    oifname "${b}" iifname != "${b}" drop`]);
    const script = `${reset}table inet ${NFT_TABLE} {
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "ctpb*" udp sport 68 udp dport 67 accept
    iifname "ctpb*" drop
  }
  chain forward {
    type filter hook forward priority -10; policy accept;
${forward.join('\n')}
  }
}
`;
    await this.run(['nft', '-f', '-'], { input: script });
  }

  private async links(type?: 'bridge'): Promise<IpLink[]> {
    const { stdout } = await this.run(['ip', '-j', '-d', 'link', 'show', ...(type ? ['type', type] : [])]);
    return (JSON.parse(stdout || '[]') as IpLink[]).filter((l) => l.ifname.startsWith('ctp'));
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => {});
    return next;
  }
}
