import type { LabDetail } from '@ctp/contracts';
import { parse } from 'yaml';

/** A topology preview from template YAML as typed, or null while it does not parse. */
export function previewFromYaml(source: string): Pick<LabDetail, 'networks' | 'vms'> | null {
  try {
    const config = parse(source) as {
      networks?: { name: string; cidr: string }[];
      vms?: { name: string; nics?: { network: string; address?: string }[] }[];
    };
    if (!Array.isArray(config?.networks) || !Array.isArray(config?.vms)) return null;
    return {
      networks: config.networks.map((n) => ({ name: String(n.name), cidr: String(n.cidr) })),
      vms: config.vms.map((vm, i) => ({
        id: String(i),
        name: String(vm.name),
        status: 'stopped',
        addresses: (vm.nics ?? []).map((nic) => ({ network: nic.network, address: nic.address ?? null })),
        consoles: [],
        studentControl: true,
        cpus: 1,
        memoryMiB: 128,
        credentials: null,
      })),
    };
  } catch {
    return null;
  }
}
