import type { Duplex } from 'node:stream';
import {
  HypervisorError,
  type ConsoleKind,
  type GuestCommand,
  type GuestExecResult,
  type GuestFile,
  type HostInfo,
  type HypervisorDriver,
  type NetworkInfo,
  type NetworkSpec,
  type SavedStateInfo,
  type SnapshotInfo,
  type VmInfo,
  type VmSpec,
} from '@ctp/hypervisor';
import type { HostRow } from '../repositories/hosts.repository.js';
import { MIN_CLUSTER_SECRET_LENGTH } from './cluster-token.js';
import { RemoteDriver } from './remote.driver.js';

/** How the cluster driver learns where a VM lives (HostsRepository.hostOfVm). */
export interface VmHostLookup {
  hostOfVm(driverName: string): Promise<Pick<HostRow, 'name' | 'address' | 'state'> | undefined>;
  /** Any host whose agent takes calls (for `probe` in a process without a driver of its own). */
  anyAgent(): Promise<Pick<HostRow, 'name' | 'address' | 'state'> | undefined>;
}

/** What `createClusterDriver` needs. */
export interface ClusterDriverOptions {
  /** The driver of this process's own machine; none in an API-only process (`CTP_ROLE=api`). */
  local: HypervisorDriver | undefined;
  hosts: VmHostLookup;
  /** This process's host name (`CTP_HOST_NAME`) and the cluster secret (`CTP_CLUSTER_SECRET`). */
  config: { hostName: string; clusterSecret: string | undefined };
}

/**
 * The driver the API's services get. Each call about one VM goes to the host the VM lives on:
 * this process's own driver when that is this host, or the VM's host is unknown (a template's
 * reference VM, a lab from before hosts) or has no address (served by this process: one machine,
 * simulated hosts); otherwise a RemoteDriver to that host's agent. A `down` host is not called at
 * all: the caller gets `host_unavailable` (409 with a reason), not a long timeout.
 * Calls not about one VM (probe, listings, networks, saved states) are this host's own; in an
 * API-only process (no local driver) probe asks an agent and the rest is refused.
 */
export class ClusterDriver implements HypervisorDriver {
  readonly kind: string;
  private readonly remotes = new Map<string, RemoteDriver>();
  private probed: { at: number; info: Promise<HostInfo> } | undefined;

  constructor(private readonly options: ClusterDriverOptions) {
    this.kind = options.local?.kind ?? 'cluster';
  }

  /** This process's own driver, or a clear refusal in a process that has none. */
  private get local(): HypervisorDriver {
    if (!this.options.local)
      throw new HypervisorError('host_unavailable', "no hypervisor runs in this API process: host-wide work belongs to the hosts' agents");
    return this.options.local;
  }

  /** The driver that serves this VM. */
  async driverFor(vmName: string): Promise<HypervisorDriver> {
    const { local, hosts, config } = this.options;
    const host = await hosts.hostOfVm(vmName);
    if (!host || host.name === config.hostName || !host.address) {
      if (local) return local;
      throw new HypervisorError(
        'host_unavailable',
        `VM ${vmName} is on no host this API can reach (no host, or one without an agent address)`,
      );
    }
    return this.remote(host);
  }

  private remote(host: Pick<HostRow, 'name' | 'address' | 'state'>): RemoteDriver {
    if (host.state === 'down')
      throw new HypervisorError('host_unavailable', `host ${host.name} is down: its VMs cannot be reached until it is back`);
    const secret = this.options.config.clusterSecret;
    if (!secret || secret.length < MIN_CLUSTER_SECRET_LENGTH)
      throw new HypervisorError('host_unavailable', `CTP_CLUSTER_SECRET is not set on this API: it cannot reach host ${host.name}`);
    const address = host.address!;
    const key = `${host.name}\n${address}`;
    let remote = this.remotes.get(key);
    if (!remote) this.remotes.set(key, (remote = new RemoteDriver({ name: host.name, address, clusterSecret: secret })));
    return remote;
  }

  /** This host's driver's; in an API-only process, an agent's (kept a minute: capabilities belong to the deployment). */
  async probe(): Promise<HostInfo> {
    if (this.options.local) return this.options.local.probe();
    if (this.probed && Date.now() - this.probed.at < 60_000) return this.probed.info;
    const host = await this.options.hosts.anyAgent();
    if (!host) throw new HypervisorError('host_unavailable', 'no hypervisor host is up with an agent address');
    const info = this.remote(host).probe();
    this.probed = { at: Date.now(), info };
    // A failed probe is not kept: the next call asks again.
    info.catch(() => (this.probed = undefined));
    return info;
  }

  async listVms(): Promise<VmInfo[]> {
    return this.local.listVms();
  }

  async getVm(name: string): Promise<VmInfo | null> {
    return (await this.driverFor(name)).getVm(name);
  }

  async createVm(spec: VmSpec): Promise<VmInfo> {
    return (await this.driverFor(spec.name)).createVm(spec);
  }

  async startVm(name: string): Promise<void> {
    return (await this.driverFor(name)).startVm(name);
  }

  async stopVm(name: string, options?: { timeoutMs?: number; force?: boolean }): Promise<void> {
    return (await this.driverFor(name)).stopVm(name, options);
  }

  async rebootVm(name: string): Promise<void> {
    return (await this.driverFor(name)).rebootVm(name);
  }

  async pauseVm(name: string): Promise<void> {
    return (await this.driverFor(name)).pauseVm(name);
  }

  async resumeVm(name: string): Promise<void> {
    return (await this.driverFor(name)).resumeVm(name);
  }

  async destroyVm(name: string): Promise<void> {
    return (await this.driverFor(name)).destroyVm(name);
  }

  async takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo> {
    return (await this.driverFor(vmName)).takeSnapshot(vmName, snapshotName);
  }

  async listSnapshots(vmName: string): Promise<SnapshotInfo[]> {
    return (await this.driverFor(vmName)).listSnapshots(vmName);
  }

  async revertSnapshot(vmName: string, snapshotName: string): Promise<void> {
    return (await this.driverFor(vmName)).revertSnapshot(vmName, snapshotName);
  }

  async deleteSnapshot(vmName: string, snapshotName: string): Promise<void> {
    return (await this.driverFor(vmName)).deleteSnapshot(vmName, snapshotName);
  }

  async createNetwork(spec: NetworkSpec): Promise<NetworkInfo> {
    return this.local.createNetwork(spec);
  }

  async destroyNetwork(name: string): Promise<void> {
    return this.local.destroyNetwork(name);
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    return this.local.listNetworks();
  }

  async saveState(vmName: string, stateName: string): Promise<SavedStateInfo> {
    return (await this.driverFor(vmName)).saveState(vmName, stateName);
  }

  async listSavedStates(): Promise<SavedStateInfo[]> {
    return this.local.listSavedStates();
  }

  async deleteSavedState(stateName: string): Promise<void> {
    return this.local.deleteSavedState(stateName);
  }

  async openConsole(vmName: string, kind: ConsoleKind): Promise<Duplex> {
    return (await this.driverFor(vmName)).openConsole(vmName, kind);
  }

  async waitForGuestAgent(vmName: string, timeoutMs?: number): Promise<void> {
    return (await this.driverFor(vmName)).waitForGuestAgent(vmName, timeoutMs);
  }

  async guestExec(vmName: string, command: GuestCommand): Promise<GuestExecResult> {
    return (await this.driverFor(vmName)).guestExec(vmName, command);
  }

  async guestWriteFile(vmName: string, file: GuestFile): Promise<void> {
    return (await this.driverFor(vmName)).guestWriteFile(vmName, file);
  }
}

/** The driver for the API's services: VM calls routed to each VM's host (see ClusterDriver). */
export function createClusterDriver(options: ClusterDriverOptions): HypervisorDriver {
  const cluster = new ClusterDriver(options);
  // exportDisk is optional: offered only where the local driver has it, and only for local VMs.
  const exportDisk = options.local?.exportDisk?.bind(options.local);
  if (exportDisk)
    Object.assign(cluster, {
      exportDisk: async (vmName: string, target: string, onProgress?: (percent: number) => void) => {
        if ((await cluster.driverFor(vmName)) !== options.local)
          throw new HypervisorError('unsupported', 'a VM of another host is saved as an image by its own agent');
        return exportDisk(vmName, target, onProgress);
      },
    });
  return cluster;
}
