import { runCommand } from '@ctp/hypervisor';

/**
 * A network namespace joined to the root namespace by a veth pair: a stand-in for another machine
 * in multi-host tests. Processes started with `exec` see only the namespace's own interfaces,
 * bridges and nftables rules, and reach the root namespace at `hostAddress` (and are reached at
 * `address`), as two hosts on one link would.
 */
export class NetworkNamespace {
  private constructor(
    readonly name: string,
    private readonly link: string,
    /** The root namespace's end of the link. */
    readonly hostAddress: string,
    /** The namespace's own address. */
    readonly address: string,
    /** The link's network, for allow lists (e.g. PostgreSQL's pg_hba). */
    readonly network: string,
  ) {}

  /** Creates namespace `index` (0..63) of this test process, with its link up. */
  static async create(index: number): Promise<NetworkNamespace> {
    // Unique per test process, so two runs on one machine never share a name or a subnet.
    const tag = `${process.pid % 100_000}x${index}`;
    const octet = 100 + (process.pid % 100);
    const base = index * 4;
    const ns = new NetworkNamespace(
      `ctptest${tag}`,
      `ctpv${tag}`,
      `10.231.${octet}.${base + 1}`,
      `10.231.${octet}.${base + 2}`,
      `10.231.${octet}.${base}/30`,
    );
    await ns.destroy();
    await ip(['netns', 'add', ns.name]);
    await ip(['link', 'add', ns.link, 'type', 'veth', 'peer', 'name', `${ns.link}p`]);
    await ip(['link', 'set', `${ns.link}p`, 'netns', ns.name]);
    await ip(['addr', 'add', `${ns.hostAddress}/30`, 'dev', ns.link]);
    await ip(['link', 'set', ns.link, 'up']);
    await ip(['-n', ns.name, 'addr', 'add', `${ns.address}/30`, 'dev', `${ns.link}p`]);
    await ip(['-n', ns.name, 'link', 'set', `${ns.link}p`, 'up']);
    await ip(['-n', ns.name, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** The argv prefix that runs a command inside the namespace. */
  exec(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...argv];
  }

  /** Removes the namespace (with every bridge, tap and rule made in it) and the link; idempotent. */
  async destroy(): Promise<void> {
    await ip(['netns', 'del', this.name]).catch(() => undefined);
    await ip(['link', 'del', this.link]).catch(() => undefined);
  }
}

async function ip(args: string[]): Promise<void> {
  await runCommand(['ip', ...args]);
}
