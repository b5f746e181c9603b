import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NetworkInfo, NetworkSpec } from '../../driver.js';
import { HypervisorError } from '../../errors.js';
import type { LabNetworkBackend } from './lab-network.js';
import { shortHash } from './names.js';

interface Record_ extends NetworkInfo {
  group?: string;
  address: string;
}

/**
 * Rootless lab networks: QEMU multicast sockets on loopback, one group and port per network.
 * Weaker than bridges: any local process that joins the group sees the traffic, and guests are
 * not kept from the host by firewall rules (the README says so).
 */
export class SocketNetworkBackend implements LabNetworkBackend {
  readonly isolation = 'socket' as const;
  private readonly file: string;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.file = path.join(stateDir, 'socket-networks.json');
  }

  async create(spec: NetworkSpec): Promise<NetworkInfo> {
    const records = this.read();
    if (!records[spec.name]) {
      const used = new Set(Object.values(records).map((r) => r.address));
      let address = '';
      for (let salt = 0; !address || used.has(address); salt++) {
        const h = parseInt(shortHash(`${spec.name}/${salt}`, 8), 16);
        address = `230.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}:${20000 + (h % 20000)}`;
      }
      records[spec.name] = { name: spec.name, address, ...(spec.group ? { group: spec.group } : {}) };
      this.write(records);
    }
    return { name: spec.name, ...(spec.group ? { group: spec.group } : {}) };
  }

  async destroy(name: string): Promise<void> {
    const records = this.read();
    delete records[name];
    this.write(records);
  }

  async list(): Promise<NetworkInfo[]> {
    return Object.values(this.read()).map((r) => ({ name: r.name, ...(r.group ? { group: r.group } : {}) }));
  }

  async attachNic(network: string, _vmName: string, nicIndex: number, mac: string): Promise<string[]> {
    const record = this.read()[network];
    if (!record) throw new HypervisorError('not_found', `network ${network} does not exist`);
    return [
      '-netdev',
      `socket,id=nic${nicIndex},mcast=${record.address},localaddr=127.0.0.1`,
      '-device',
      `virtio-net-pci,netdev=nic${nicIndex},mac=${mac}`,
    ];
  }

  async detachNic(): Promise<void> {}

  private read(): Record<string, Record_> {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, Record_>;
    } catch {
      return {};
    }
  }

  private write(records: Record<string, Record_>): void {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(records, null, 2));
    renameSync(`${this.file}.tmp`, this.file);
  }
}
