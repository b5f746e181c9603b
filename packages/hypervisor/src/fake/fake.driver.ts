import { PassThrough, type Duplex } from 'node:stream';
import {
  isValidName,
  type HostInfo,
  type HypervisorDriver,
  type NetworkInfo,
  type NetworkSpec,
  type SnapshotInfo,
  type VmInfo,
  type VmSpec,
} from '../driver.js';
import { HypervisorError } from '../errors.js';

interface MemoryVm {
  info: VmInfo;
  snapshots: (SnapshotInfo & { state: VmInfo['state'] })[];
}

/**
 * An in-memory driver for unit tests of the services above the VM layer — never for users. It
 * keeps the contract (idempotent by name, typed errors, no internal ids) and passes the same
 * contract suite as the real drivers. `failOn` makes the named operation fail, to test error paths.
 * Its serial console echoes what is written to it.
 */
export class FakeDriver implements HypervisorDriver {
  readonly kind = 'fake';
  readonly vms = new Map<string, MemoryVm>();
  readonly networks = new Map<string, NetworkInfo>();
  failOn: { operation: string; name?: string; message: string } | undefined;

  async probe(): Promise<HostInfo> {
    return {
      driver: 'fake',
      version: '1',
      accelerator: 'none',
      capabilities: {
        snapshots: true,
        liveSnapshots: true,
        linkedClones: true,
        pause: true,
        consoles: ['serial', 'vnc'],
        networkIsolation: 'memory',
      },
      notes: [],
    };
  }

  private check(operation: string, name: string): void {
    if (this.failOn && this.failOn.operation === operation && (!this.failOn.name || name.endsWith(this.failOn.name))) {
      throw new HypervisorError('command_failed', this.failOn.message, { stderr: this.failOn.message });
    }
  }

  private vm(name: string): MemoryVm {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid name "${name}"`);
    const vm = this.vms.get(name);
    if (!vm) throw new HypervisorError('not_found', `VM ${name} does not exist`);
    return vm;
  }

  async listVms(): Promise<VmInfo[]> {
    return [...this.vms.values()].map((vm) => ({ ...vm.info }));
  }
  async getVm(name: string): Promise<VmInfo | null> {
    const vm = this.vms.get(name);
    return vm ? { ...vm.info } : null;
  }
  async createVm(spec: VmSpec): Promise<VmInfo> {
    if (!isValidName(spec.name)) throw new HypervisorError('invalid', `invalid name "${spec.name}"`);
    this.check('createVm', spec.name);
    if (spec.image.kind === 'disk' && spec.image.path.includes('does-not-exist'))
      throw new HypervisorError('not_found', `base image ${spec.image.path} does not exist`);
    for (const nic of spec.nics)
      if (!this.networks.has(nic.network)) throw new HypervisorError('not_found', `network ${nic.network} does not exist`);
    const existing = this.vms.get(spec.name);
    if (existing) return { ...existing.info };
    const info: VmInfo = {
      name: spec.name,
      state: 'stopped',
      cpus: spec.cpus,
      memoryMiB: spec.memoryMiB,
      nics: spec.nics.map((n, i) => ({ network: n.network, mac: n.mac ?? `52:54:00:00:00:${i.toString(16).padStart(2, '0')}` })),
      consoles: ['serial', 'vnc'],
    };
    this.vms.set(spec.name, { info, snapshots: [] });
    return { ...info };
  }
  async startVm(name: string): Promise<void> {
    this.check('startVm', name);
    this.vm(name).info.state = 'running';
  }
  async stopVm(name: string, _options?: { timeoutMs?: number; force?: boolean }): Promise<void> {
    this.vm(name).info.state = 'stopped';
  }
  async rebootVm(name: string): Promise<void> {
    this.vm(name).info.state = 'running';
  }
  async pauseVm(name: string): Promise<void> {
    const vm = this.vm(name);
    if (vm.info.state === 'stopped') throw new HypervisorError('invalid_state', `VM ${name} is stopped`);
    vm.info.state = 'paused';
  }
  async resumeVm(name: string): Promise<void> {
    const vm = this.vm(name);
    if (vm.info.state === 'stopped') throw new HypervisorError('invalid_state', `VM ${name} is stopped`);
    vm.info.state = 'running';
  }
  async destroyVm(name: string): Promise<void> {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid name "${name}"`);
    this.vms.delete(name);
  }
  async takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo> {
    const vm = this.vm(vmName);
    if (!isValidName(snapshotName)) throw new HypervisorError('invalid', `invalid name "${snapshotName}"`);
    const snapshot = { name: snapshotName, createdAt: new Date(), withMemory: vm.info.state === 'running', state: vm.info.state };
    vm.snapshots = [...vm.snapshots.filter((s) => s.name !== snapshotName), snapshot];
    return { name: snapshot.name, createdAt: snapshot.createdAt, withMemory: snapshot.withMemory };
  }
  async listSnapshots(vmName: string): Promise<SnapshotInfo[]> {
    return this.vm(vmName).snapshots.map(({ name, createdAt, withMemory }) => ({ name, createdAt, withMemory }));
  }
  async revertSnapshot(vmName: string, snapshotName: string): Promise<void> {
    const vm = this.vm(vmName);
    const snapshot = vm.snapshots.find((s) => s.name === snapshotName);
    if (!snapshot) throw new HypervisorError('not_found', `snapshot ${snapshotName} does not exist`);
    vm.info.state = snapshot.withMemory ? 'running' : 'stopped';
  }
  async deleteSnapshot(vmName: string, snapshotName: string): Promise<void> {
    const vm = this.vm(vmName);
    vm.snapshots = vm.snapshots.filter((s) => s.name !== snapshotName);
  }
  async createNetwork(spec: NetworkSpec): Promise<NetworkInfo> {
    if (!isValidName(spec.name)) throw new HypervisorError('invalid', `invalid name "${spec.name}"`);
    this.check('createNetwork', spec.name);
    const info = { name: spec.name, ...(spec.group ? { group: spec.group } : {}) };
    this.networks.set(spec.name, info);
    return info;
  }
  async destroyNetwork(name: string): Promise<void> {
    this.networks.delete(name);
  }
  async listNetworks(): Promise<NetworkInfo[]> {
    return [...this.networks.values()];
  }
  async openConsole(vmName: string): Promise<Duplex> {
    const vm = this.vm(vmName);
    if (vm.info.state === 'stopped') throw new HypervisorError('invalid_state', `VM ${vmName} is stopped`);
    return new PassThrough();
  }
}
