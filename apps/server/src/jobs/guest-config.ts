import { createHash, randomInt } from 'node:crypto';
import type { LabTemplateConfig } from '@ctp/contracts';
import type { CloudInitSeed } from '@ctp/hypervisor';
import { stringify as toYaml } from 'yaml';

/** The login a full-OS guest gets: shown to the lab's users, never logged. */
export interface VmCredentials {
  username: string;
  password: string;
}

/** A fixed, locally administered MAC per VM and NIC (QEMU's 52:54:00 prefix), so configs can match on it. */
export function macFor(driverName: string, index: number): string {
  const hash = createHash('sha256').update(`${driverName}/${index}`).digest();
  return `52:54:00:${[hash[0]!, hash[1]!, hash[2]!].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

// No look-alikes (0/O, 1/l/I): the password is typed from the lab page into a console.
const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A random password for one VM of one lab (14 characters, ~80 bits). */
export function generatePassword(length = 14): string {
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

/** The DHCP server's own address on a lab network: the highest host address no guest or gateway uses. */
export function dhcpServerAddress(cidr: string, taken: Set<string | undefined>): string {
  const [ip, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  const base = ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const mask = (~0 << (32 - bits)) >>> 0;
  const broadcast = ((base & mask) | (~mask >>> 0)) >>> 0;
  for (let n = broadcast - 1; n > (base & mask) >>> 0; n--) {
    const address = [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
    if (!taken.has(address)) return address;
  }
  throw new Error(`network ${cidr} has no free address for its DHCP server`);
}

interface SeedNic {
  mac: string;
  network: string;
  address: string | null;
}

/**
 * The cloud-init NoCloud seed of one VM: hostname (meta-data), a sudo login with the lab's
 * generated password and the template's SSH keys (user-data), and network-config v2 with the
 * template's static address per NIC (matched by MAC), the default route and DNS where the
 * template's network names them, DHCP for NICs without an address.
 */
export function cloudInitSeed(input: {
  instanceId: string;
  hostname: string;
  credentials: VmCredentials;
  sshKeys?: string[];
  nics: SeedNic[];
  config: LabTemplateConfig;
}): CloudInitSeed {
  const metaData = toYaml({ 'instance-id': input.instanceId, 'local-hostname': input.hostname });
  const user = {
    name: input.credentials.username,
    sudo: 'ALL=(ALL) NOPASSWD:ALL',
    shell: '/bin/bash',
    lock_passwd: false,
    plain_text_passwd: input.credentials.password,
    ...(input.sshKeys?.length ? { ssh_authorized_keys: input.sshKeys } : {}),
  };
  const userData = `#cloud-config\n${toYaml({ users: [user], ssh_pwauth: true, chpasswd: { expire: false } })}`;
  const ethernets: Record<string, unknown> = {};
  let routed = false;
  input.nics.forEach((nic, i) => {
    const network = input.config.networks.find((n) => n.name === nic.network);
    const bits = network?.cidr.split('/')[1] ?? '24';
    const entry: Record<string, unknown> = { match: { macaddress: nic.mac }, 'set-name': `eth${i}` };
    if (!nic.address) entry.dhcp4 = true;
    else {
      entry.addresses = [`${nic.address}/${bits}`];
      // One default route: through the first network that names a gateway (cloud-init 22.4 wants 0.0.0.0/0, not "default").
      if (network?.gateway && !routed) {
        entry.routes = [{ to: '0.0.0.0/0', via: network.gateway }];
        routed = true;
      }
      if (network?.dns?.length) entry.nameservers = { addresses: network.dns };
    }
    ethernets[`nic${i}`] = entry;
  });
  return { metaData, userData, networkConfig: toYaml({ version: 2, ethernets }) };
}
