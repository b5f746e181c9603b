import type { LabStatus, LabTemplateConfig } from '@ctp/contracts';
import type { DhcpSpec, HypervisorDriver, VmSpec } from '@ctp/hypervisor';
import type { LabRow, LabsRepository, VmRow } from '../repositories/labs.repository.js';
import type { EventBus } from '../services/event-bus.js';
import type { ImageCatalog } from '../services/image-catalog.js';
import { cloudInitSeed, dhcpServerAddress, generatePassword, macFor, type VmCredentials } from './guest-config.js';
import { kernelSettingArgs } from '../services/guest-settings.js';
import { publicStepError } from '../services/public-errors.js';

export type LabOperation = 'provision' | 'start' | 'stop' | 'reset' | 'delete';

/** The snapshot every VM gets once provisioned; reset returns to it. */
export const INITIAL_SNAPSHOT = 'initial';

/** Hypervisor names of a lab's things: unique per lab, safe as names, never shown to users. */
export function labPrefix(labId: string): string {
  return `l${labId.replaceAll('-', '').slice(0, 16)}`;
}

type NicRecord = { network: string; address: string | null; mac?: string };

/** The kernel command line that configures a demo guest: hostname, addresses, non-secret settings. */
export function guestArgs(
  labId: string,
  vmName: string,
  nics: NicRecord[],
  config: LabTemplateConfig,
  settings: Record<string, string> = {},
): string {
  const args = [`ctp.hostname=${vmName}`, `ctp.lab=${labPrefix(labId)}`];
  nics.forEach((nic, i) => {
    if (!nic.address) return;
    const bits = config.networks.find((n) => n.name === nic.network)?.cidr.split('/')[1] ?? '24';
    args.push(`ctp.ip${i}=${nic.address}/${bits}`);
    if (i === 0) args.push(`ctp.ip=${nic.address}/${bits}`);
  });
  args.push(...kernelSettingArgs(settings));
  return args.join(' ');
}

class StepFailure extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(publicStepError(cause));
  }
}

/**
 * Does the hypervisor work of lab operations, one recorded step at a time. Every step is
 * idempotent (the driver contract makes create/start/destroy idempotent by name), so a job that
 * is retried after a crash simply runs again from the start.
 */
export class LabRunner {
  constructor(
    private readonly labs: LabsRepository,
    private readonly driver: HypervisorDriver,
    private readonly events: EventBus,
    private readonly images: ImageCatalog,
    private readonly observe: (operation: LabOperation, outcome: 'success' | 'failure', seconds: number) => void = () => {},
  ) {}

  /** Runs one operation; `finalAttempt` says whether a failure ends in `error` or a retry. */
  async run(labId: string, operation: LabOperation, finalAttempt: boolean): Promise<void> {
    const lab = await this.labs.findById(labId);
    if (!lab || lab.status === 'deleted') return;
    const started = Date.now();
    const plan = await this.plan(lab, operation);
    await this.labs.replaceSteps(
      labId,
      operation,
      plan.map((s) => s.name),
    );
    try {
      for (const [seq, step] of plan.entries()) {
        // A lab being deleted stops whatever else was under way.
        if (operation !== 'delete' && (await this.labs.findById(labId))?.status === 'deleting') return;
        await this.runStep(lab, seq, plan.length, step.name, step.run);
      }
    } catch (error) {
      const failure = error instanceof StepFailure ? error : new StepFailure('unknown', error);
      if (!finalAttempt) throw failure;
      await this.fail(lab, operation, failure);
      this.observe(operation, 'failure', (Date.now() - started) / 1000);
      return;
    }
    this.observe(operation, 'success', (Date.now() - started) / 1000);
    const finalStatus: Record<LabOperation, LabStatus> = {
      provision: 'running',
      start: 'running',
      reset: 'running',
      stop: 'stopped',
      delete: 'deleted',
    };
    await this.setStatus(lab, finalStatus[operation], {
      errorStep: null,
      errorMessage: null,
      ...(operation === 'delete' ? { deletedAt: new Date() } : {}),
    });
  }

  private async plan(lab: LabRow, operation: LabOperation): Promise<{ name: string; run: () => Promise<void> }[]> {
    const config = lab.config as LabTemplateConfig;
    const networks = await this.labs.networksOf(lab.id);
    const machines = await this.labs.vmsOf(lab.id);
    const startAll = { name: 'Start VMs', run: () => this.eachVm(lab, machines, (vm) => this.startVm(vm)) };
    switch (operation) {
      case 'provision':
        return [
          ...networks.map((n) => ({
            name: `Create network ${n.name}`,
            run: async () =>
              void (await this.driver.createNetwork({
                name: n.driverName,
                group: labPrefix(lab.id),
                dhcp: await this.dhcpOf(config, n.name, machines),
              })),
          })),
          ...machines.map((vm) => ({ name: `Create VM ${vm.name}`, run: () => this.createVm(lab, config, vm) })),
          // The initial state is the fresh disk, taken before the first boot: it costs
          // milliseconds (no RAM to save while guests boot) and reset means a clean boot.
          { name: 'Take initial snapshots', run: async () => void (await Promise.all(machines.map((vm) => this.initialSnapshot(vm)))) },
          startAll,
        ];
      case 'start':
        return [startAll];
      case 'stop':
        return [{ name: 'Stop VMs', run: () => this.eachVm(lab, machines, (vm) => this.stopVm(vm)) }];
      case 'reset':
        return machines.map((vm) => ({ name: `Revert ${vm.name} to its initial snapshot`, run: () => this.revertVm(lab, vm) }));
      case 'delete':
        return [
          { name: 'Destroy VMs', run: () => this.destroyVms(lab, machines) },
          { name: 'Destroy networks', run: () => this.destroyNetworks(networks.map((n) => n.driverName)) },
        ];
    }
  }

  /** The DHCP server of a lab network, when the template asks for one or an image is configured by DHCP only. */
  private async dhcpOf(config: LabTemplateConfig, network: string, machines: VmRow[]): Promise<DhcpSpec | undefined> {
    const templateNetwork = config.networks.find((n) => n.name === network);
    if (!templateNetwork || templateNetwork.dhcp === false) return undefined;
    const methods = await Promise.all(machines.map(async (vm) => (await this.images.resolve(vm.image))?.configMethod));
    const wanted =
      templateNetwork.dhcp === true ||
      machines.some((vm, i) => methods[i] === 'dhcp' && (vm.nics as NicRecord[]).some((n) => n.network === network));
    if (!wanted) return undefined;
    const leases = machines.flatMap((vm) =>
      (vm.nics as NicRecord[]).flatMap((nic, i) =>
        nic.network === network && nic.address
          ? [{ mac: nic.mac ?? macFor(vm.driverName, i), address: nic.address, hostname: vm.name }]
          : [],
      ),
    );
    const taken = new Set([...leases.map((l) => l.address), templateNetwork.gateway]);
    return {
      cidr: templateNetwork.cidr,
      serverAddress: dhcpServerAddress(templateNetwork.cidr, taken),
      gateway: templateNetwork.gateway,
      dns: templateNetwork.dns,
      leases,
    };
  }

  private async runStep(lab: LabRow, seq: number, total: number, name: string, run: () => Promise<void>): Promise<void> {
    await this.labs.updateStep(lab.id, seq, { status: 'running', startedAt: new Date(), finishedAt: null, error: null });
    await this.publish(lab, 'lab.progress', { done: seq, total, current: name });
    try {
      await run();
    } catch (error) {
      // Users read step errors: no driver names, paths or commands (the job's own log keeps the detail).
      await this.labs.updateStep(lab.id, seq, { status: 'failed', finishedAt: new Date(), error: publicStepError(error) });
      throw new StepFailure(name, error);
    }
    await this.labs.updateStep(lab.id, seq, { status: 'done', finishedAt: new Date() });
    await this.publish(lab, 'lab.progress', { done: seq + 1, total, current: seq + 1 < total ? null : name });
  }

  private async eachVm(lab: LabRow, machines: VmRow[], act: (vm: VmRow) => Promise<string>): Promise<void> {
    await Promise.all(
      machines.map(async (vm) => {
        const status = await act(vm);
        await this.labs.setVmStatus(vm.id, status);
        await this.publish(lab, 'vm.status', { vmId: vm.id, name: vm.name, status });
      }),
    );
  }

  private async createVm(lab: LabRow, config: LabTemplateConfig, vm: VmRow): Promise<void> {
    const resolved = await this.images.resolve(vm.image);
    if (!resolved) throw new Error(`base image "${vm.image}" is not available on this host`);
    const image = resolved.base;
    const nics = vm.nics as NicRecord[];
    const networks = await this.labs.networksOf(lab.id);
    const templateVm = config.vms.find((v) => v.name === vm.name);
    const macs = nics.map((nic, i) => nic.mac ?? macFor(vm.driverName, i));
    const spec: VmSpec = {
      name: vm.driverName,
      image,
      cpus: vm.cpus,
      memoryMiB: vm.memoryMiB,
      nics: nics.map((nic, i) => ({ network: networks.find((n) => n.name === nic.network)!.driverName, mac: macs[i] })),
      kernelArgs: image.kind === 'kernel' ? guestArgs(lab.id, vm.name, nics, config, templateVm?.settings) : undefined,
      scratchDiskMiB: 64,
    };
    if (resolved.configMethod === 'cloud-init') {
      // Generated once per VM of a lab (a retried job reuses it), shown to the lab's users.
      let credentials = vm.credentials as VmCredentials | null;
      if (!credentials) {
        credentials = { username: templateVm?.user ?? resolved.defaultUser ?? 'student', password: generatePassword() };
        await this.labs.setVmCredentials(vm.id, credentials);
      }
      spec.cloudInit = cloudInitSeed({
        instanceId: vm.driverName,
        hostname: vm.name,
        credentials,
        sshKeys: templateVm?.sshKeys,
        nics: nics.map((nic, i) => ({ ...nic, mac: macs[i]! })),
        config,
      });
    }
    await this.driver.createVm(spec);
    await this.labs.setVmStatus(vm.id, 'stopped');
  }

  private async startVm(vm: VmRow): Promise<string> {
    await this.driver.startVm(vm.driverName);
    return 'running';
  }

  private async stopVm(vm: VmRow): Promise<string> {
    await this.driver.stopVm(vm.driverName, { timeoutMs: 3000 });
    return 'stopped';
  }

  private async initialSnapshot(vm: VmRow): Promise<void> {
    const existing = await this.driver.listSnapshots(vm.driverName);
    if (!existing.some((s) => s.name === INITIAL_SNAPSHOT)) await this.driver.takeSnapshot(vm.driverName, INITIAL_SNAPSHOT);
  }

  private async revertVm(lab: LabRow, vm: VmRow): Promise<void> {
    await this.driver.revertSnapshot(vm.driverName, INITIAL_SNAPSHOT);
    // A snapshot without RAM leaves the VM stopped: a reset lab runs.
    const state = (await this.driver.getVm(vm.driverName))?.state;
    if (state !== 'running') await this.driver.startVm(vm.driverName);
    await this.labs.setVmStatus(vm.id, 'running');
    await this.publish(lab, 'vm.status', { vmId: vm.id, name: vm.name, status: 'running' });
  }

  private async destroyVms(lab: LabRow, machines: VmRow[]): Promise<void> {
    await this.eachVm(lab, machines, async (vm) => {
      await this.driver.destroyVm(vm.driverName);
      return 'deleted';
    });
  }

  private async destroyNetworks(names: string[]): Promise<void> {
    for (const name of names) await this.driver.destroyNetwork(name);
  }

  /** Final failure: record it, and remove what a failed provisioning left behind. */
  private async fail(lab: LabRow, operation: LabOperation, failure: StepFailure): Promise<void> {
    const detail = failure.message;
    if (operation === 'provision') {
      const machines = await this.labs.vmsOf(lab.id);
      const networks = await this.labs.networksOf(lab.id);
      await this.destroyVms(lab, machines).catch(() => {});
      await this.destroyNetworks(networks.map((n) => n.driverName)).catch(() => {});
      for (const vm of machines) await this.labs.setVmStatus(vm.id, 'error');
    }
    await this.setStatus(lab, 'error', { errorStep: failure.step, errorMessage: detail });
  }

  private async setStatus(lab: LabRow, status: LabStatus, changes: Partial<LabRow>): Promise<void> {
    await this.labs.update(lab.id, { ...changes, status });
    await this.publish(lab, 'lab.status', {
      status,
      ...(status === 'error' ? { step: changes.errorStep, message: changes.errorMessage } : {}),
    });
  }

  private async publish(lab: LabRow, type: string, data: Record<string, unknown>): Promise<void> {
    await this.events.publish(lab.id, type, data, { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) });
  }
}
