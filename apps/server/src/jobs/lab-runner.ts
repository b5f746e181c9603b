import type { LabStatus, LabTemplateConfig } from '@ctp/contracts';
import { HypervisorError, type DhcpSpec, type HypervisorDriver, type VmSpec } from '@ctp/hypervisor';
import type { LabRow, LabsRepository, VmRow } from '../repositories/labs.repository.js';
import type { EventBus } from '../services/event-bus.js';
import type { ImageCatalog } from '../services/image-catalog.js';
import { cloudInitSeed, dhcpServerAddress, generatePassword, macFor, type VmCredentials } from './guest-config.js';
import { guestArgs, type NicRecord } from '../services/guest-settings.js';
import { labPrefix, type LabOperation } from '../labs/lab-operation.js';
import { publicStepError } from '../services/public-errors.js';
import type { BootChoice, TemplateStateService } from '../services/template-state.service.js';
import type { LabContentDelivery } from '../services/lab-content.js';
import { RestoreSlots } from './restore-slots.js';

/** What the runner needs of the task content: registering a lab's secrets at provisioning. */
export interface LabSecretsRegistry {
  registerSecrets(labId: string, config: LabTemplateConfig): Promise<unknown>;
}

/** The snapshot every VM gets once provisioned; reset returns to it. */
export const INITIAL_SNAPSHOT = 'initial';

/** One recorded step; `rename` changes its recorded name (when a VM took another path than planned). */
/** `parallel`: consecutive steps of the same group (one per VM) run at once. */
type Step = { name: string; parallel?: 'create' | 'start'; run: (rename: (name: string) => Promise<void>) => Promise<void> };

/** The name of a VM's start step: which path it takes and why. */
function startStepName(vm: VmRow, choice: BootChoice): string {
  return `Start ${vm.name} (${choice.reason})`;
}

/** What the runner reports to metrics as operations end. */
export interface LabRunnerObserver {
  finished(operation: LabOperation, outcome: 'success' | 'failure', seconds: number): void;
  /** A provisioned lab is running: `seconds` since it was requested (queue wait included). */
  running(template: string, seconds: number): void;
  /** Every VM of a provisioned lab answered on its guest channel: `seconds` since the lab was requested. */
  ready(template: string, seconds: number): void;
  /** A provisioned lab's VMs did not all answer on their guest channel within the readiness timeout. */
  readyTimedOut(template: string): void;
  /** A step failed (each attempt counts); `step` is its kind, without VM or network names. */
  stepFailed(operation: LabOperation, step: string): void;
}

const NO_OBSERVER: LabRunnerObserver = {
  finished: () => {},
  running: () => {},
  ready: () => {},
  readyTimedOut: () => {},
  stepFailed: () => {},
};

/** How long a provisioned lab's guests may take to answer before readiness is given up. */
export const READY_TIMEOUT_MS = 5 * 60_000;
// Between two waits the lab's status is checked, so that a deleted lab is not waited for.
const READY_POLL_MS = 10_000;

/** A step's kind for metrics: "Create VM kali" → "Create VM", "Revert a to its initial snapshot" → "Revert". */
export function stepKind(name: string): string {
  if (name.startsWith('Create VM ')) return 'Create VM';
  if (name.startsWith('Create network ')) return 'Create network';
  if (name.startsWith('Revert ')) return 'Revert';
  if (/^Start \S+ \(/.test(name)) return 'Start VM';
  return name;
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
    private readonly secrets: LabSecretsRegistry,
    private readonly content: LabContentDelivery,
    private readonly observer: LabRunnerObserver = NO_OBSERVER,
    private readonly states?: TemplateStateService,
    /** Called when a lab gives its capacity back (deleted, or failed): queued labs may start. */
    private readonly released: () => Promise<unknown> = async () => {},
    private readonly restoreSlots = new RestoreSlots(() => 0),
  ) {}

  /** Runs one operation; `finalAttempt` says whether a failure ends in `error` or a retry. */
  async run(labId: string, operation: LabOperation, finalAttempt: boolean): Promise<void> {
    const lab = await this.labs.findById(labId);
    if (!lab || lab.status === 'deleted') return;
    const started = Date.now();
    // VMs whose guest agent answered during this run (restored ones got their identity through it).
    const answered = new Set<string>();
    const plan = await this.plan(lab, operation, answered);
    await this.labs.replaceSteps(
      labId,
      operation,
      plan.map((s) => s.name),
    );
    try {
      for (let seq = 0; seq < plan.length;) {
        // A lab being deleted stops whatever else was under way.
        if (operation !== 'delete' && (await this.labs.findById(labId))?.status === 'deleting') return;
        // Consecutive parallel steps of one group (one per VM) run at once, each recorded on its own;
        // a group starts once the one before it has finished (a VM starts once every VM was made).
        let end = seq + 1;
        while (plan[seq]!.parallel && plan[end]?.parallel === plan[seq]!.parallel) end++;
        const group = plan.slice(seq, end);
        const results = await Promise.allSettled(group.map((step, i) => this.runStep(lab, seq + i, plan.length, step.name, step.run)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        seq = end;
      }
    } catch (error) {
      const failure = error instanceof StepFailure ? error : new StepFailure('unknown', error);
      this.observer.stepFailed(operation, stepKind(failure.step));
      if (!finalAttempt) throw failure;
      await this.fail(lab, operation, failure);
      this.observer.finished(operation, 'failure', (Date.now() - started) / 1000);
      return;
    }
    this.observer.finished(operation, 'success', (Date.now() - started) / 1000);
    const finalStatus: Record<LabOperation, LabStatus> = {
      provision: 'running',
      handover: 'running',
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
    if (operation === 'delete') await this.released();
    if ((operation === 'provision' && !lab.pool) || operation === 'handover') {
      const template = (lab.config as LabTemplateConfig).title ?? lab.name;
      this.observer.running(template, (Date.now() - new Date(lab.createdAt).getTime()) / 1000);
      // Not a step: the lab is usable (consoles) while its guests finish booting.
      void this.watchReadiness(lab, template, answered);
    }
  }

  /**
   * Time-to-ready: when every VM of the lab answers on its private guest channel (its system is
   * up), measured from the request. Only where the hypervisor has that channel.
   */
  private async watchReadiness(lab: LabRow, template: string, answered: ReadonlySet<string>): Promise<void> {
    try {
      if (!(await this.driver.probe()).capabilities.guestAgent) return;
      const deadline = Date.now() + READY_TIMEOUT_MS;
      // One VM after the other: those already up answer at once, so the end is when the last one did.
      for (const vm of await this.labs.vmsOf(lab.id)) {
        // Asking again would cost a freshly restored guest CPU that a class start is short of.
        if (answered.has(vm.id)) continue;
        for (;;) {
          try {
            await this.driver.waitForGuestAgent(vm.driverName, Math.max(1, Math.min(READY_POLL_MS, deadline - Date.now())));
            break;
          } catch (error) {
            // Gone or stopped (not a timeout): the lab was deleted or stopped; nothing to measure.
            if (!(error instanceof HypervisorError && error.code === 'timeout')) return;
            if (Date.now() >= deadline) return this.observer.readyTimedOut(template);
            if ((await this.labs.findById(lab.id))?.status !== 'running') return;
          }
        }
      }
      const readyAt = new Date();
      this.observer.ready(template, (readyAt.getTime() - new Date(lab.createdAt).getTime()) / 1000);
      // For the admin overview's samples (a site without Prometheus).
      await this.labs.update(lab.id, { readyAt });
    } catch {
      // Measuring must never disturb the lab: a database hiccup only loses this sample.
    }
  }

  private async plan(lab: LabRow, operation: LabOperation, answered: Set<string>): Promise<Step[]> {
    const config = lab.config as LabTemplateConfig;
    const networks = await this.labs.networksOf(lab.id);
    const machines = await this.labs.vmsOf(lab.id);
    const startAll = { name: 'Start VMs', run: () => this.eachVm(lab, machines, (vm) => this.startVm(vm)) };
    // Guests forget what was written into them when they boot again: deliver after every start.
    // `prepared`: which VMs' files are still as their saved state prepared them (asked when the step runs).
    const deliver = (prepared?: () => Promise<Set<string>>) =>
      machines.some((vm) => this.content.hasContentFor(lab, vm.name))
        ? [{ name: 'Deliver lab content', run: async () => this.deliverContent(lab, machines, { prepared: await prepared?.() }) }]
        : [];
    const firstWithContent = machines.find((vm) => this.content.hasContentFor(lab, vm.name));
    const secrets = { name: 'Generate lab secrets', run: async () => void (await this.secrets.registerSecrets(lab.id, config)) };
    switch (operation) {
      case 'provision': {
        // Each VM resumes its template's saved state where there is one, else boots; the steps say which and why.
        const choices = await this.bootChoices(lab, config, machines);
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
          // All VMs at once, each with its initial snapshot: the fresh disk, taken before the
          // first boot (or restore), so that reset means a clean boot (or the saved state again).
          ...machines.map((vm) => ({
            name: `Create VM ${vm.name}`,
            parallel: 'create' as const,
            run: async () => {
              // A VM made by an earlier attempt of this job may have its snapshot already.
              const fresh = !(await this.driver.getVm(vm.driverName));
              await this.createVm(lab, config, vm, choices.get(vm.id));
              await this.initialSnapshot(vm, fresh);
            },
          })),
          // A warm pool lab gets its secrets and content when a student takes it (handover).
          ...(lab.pool ? [] : [secrets]),
          ...machines.map((vm) => {
            const choice = choices.get(vm.id)!;
            const planned = startStepName(vm, choice);
            return {
              name: planned,
              parallel: 'start' as const,
              run: async (rename: (name: string) => Promise<void>) => {
                // The path changed since planning (the state vanished before the VM was made).
                if (startStepName(vm, choice) !== planned) await rename(startStepName(vm, choice));
                // A restore holds one of its host's slots until its lab's identity and files are in.
                const release = choice.savedState ? await this.restoreSlots.acquire(lab.hostId, lab.pool) : () => {};
                try {
                  const restored = await this.startChosen(lab, config, vm, choice, rename);
                  if (restored) answered.add(vm.id);
                  // Each VM gets its lab's files as soon as it runs, not once every VM of the lab does.
                  if (!lab.pool)
                    await this.deliverContent(lab, [vm], {
                      report: vm.id === firstWithContent?.id,
                      prepared: new Set(restored ? [vm.id] : []),
                    });
                } finally {
                  release();
                }
              },
            };
          }),
        ];
      }
      case 'handover':
        // A pool lab's VMs waited untouched since they resumed: the files of those restored are still as prepared.
        return [secrets, ...deliver(() => this.restoredVms(machines))];
      case 'start':
        return [startAll, ...deliver()];
      case 'stop':
        return [{ name: 'Stop VMs', run: () => this.eachVm(lab, machines, (vm) => this.stopVm(vm)) }];
      case 'reset':
        return [
          ...machines.map((vm) => ({ name: `Revert ${vm.name} to its initial snapshot`, run: () => this.revertVm(lab, vm) })),
          ...deliver(),
        ];
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

  private async runStep(lab: LabRow, seq: number, total: number, name: string, run: Step['run']): Promise<void> {
    await this.labs.updateStep(lab.id, seq, { status: 'running', startedAt: new Date(), finishedAt: null, error: null });
    await this.publish(lab, 'lab.progress', { done: seq, total, current: name });
    try {
      await run(async (renamed) => {
        name = renamed;
        await this.labs.updateStep(lab.id, seq, { name: renamed });
      });
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

  /** How each VM starts: the template state service decides (cold boot without one). */
  private async bootChoices(lab: LabRow, config: LabTemplateConfig, machines: VmRow[]): Promise<Map<string, BootChoice>> {
    const choices = new Map<string, BootChoice>();
    for (const vm of machines) {
      const choice = this.states
        ? await this.states.choose({ templateId: lab.templateId, templateVersion: lab.templateVersion, config }, vm.name)
        : { reason: 'cold boot: saved states are turned off' };
      choices.set(vm.id, choice);
    }
    return choices;
  }

  /**
   * Starts a VM as chosen. A saved state that fails to load is marked stale (the next lab
   * prepares a new one) and the VM is made again and booted; the step records why.
   */
  private async startChosen(
    lab: LabRow,
    config: LabTemplateConfig,
    vm: VmRow,
    choice: BootChoice,
    rename: (name: string) => Promise<void>,
  ): Promise<boolean> {
    let restored = Boolean(choice.savedState);
    try {
      await this.driver.startVm(vm.driverName);
    } catch (error) {
      if (!choice.savedState) throw error;
      // The VM leaves the state before it is marked stale: the job that marking starts deletes unused states.
      await this.states?.recordVm(vm.id, null);
      restored = false;
      await this.states?.markStale(choice.savedState, `failed to load: ${error instanceof Error ? error.message : String(error)}`);
      const cold = { reason: 'cold boot: the saved state failed to load' };
      await rename(startStepName(vm, cold));
      await this.driver.destroyVm(vm.driverName);
      await this.createVm(lab, config, vm, cold);
      await this.initialSnapshot(vm, true);
      await this.driver.startVm(vm.driverName);
    }
    // The saved guest booted as the template's reference VM: it learns its own lab now.
    if (restored) await this.content.deliverIdentity(vm.driverName, this.kernelArgs(lab, config, vm));
    await this.labs.setVmStatus(vm.id, 'running');
    await this.publish(lab, 'vm.status', { vmId: vm.id, name: vm.name, status: 'running' });
    return restored;
  }

  /** Which of these VMs were made from a saved state (and not booted after it failed to load). */
  private async restoredVms(machines: VmRow[]): Promise<Set<string>> {
    const states = await Promise.all(machines.map(async (vm) => ((await this.states?.vmState(vm.id)) ? vm.id : null)));
    return new Set(states.filter((id): id is string => id !== null));
  }

  private async createVm(lab: LabRow, config: LabTemplateConfig, vm: VmRow, choice?: BootChoice): Promise<void> {
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
      kernelArgs: image.kind === 'kernel' ? this.kernelArgs(lab, config, vm) : undefined,
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
    if (choice?.savedState) {
      try {
        await this.driver.createVm({ ...spec, savedState: choice.savedState });
      } catch (error) {
        if (!(error instanceof HypervisorError && error.code === 'not_found')) throw error;
        // The state's files went missing since the plan was made: boot instead, and say so.
        await this.states?.markStale(choice.savedState, 'its files are missing');
        delete choice.savedState;
        choice.reason = 'cold boot: the saved state is missing';
        await this.driver.createVm(spec);
      }
    } else {
      await this.driver.createVm(spec);
    }
    await this.states?.recordVm(vm.id, choice?.savedState ?? null);
    await this.labs.setVmStatus(vm.id, 'stopped');
  }

  /** The kernel command line of a lab's VM (its identity: hostname, addresses, lab, non-secret settings). */
  private kernelArgs(lab: LabRow, config: LabTemplateConfig, vm: VmRow): string {
    const templateVm = config.vms.find((v) => v.name === vm.name);
    return guestArgs(lab.id, vm.name, vm.nics as NicRecord[], config, templateVm?.settings);
  }

  /**
   * Writes the lab's inject files into these VMs over the guest channel (never the command line
   * or console); `report`: this call tells staff when there is no guest channel (once per lab);
   * `prepared`: the VMs whose files are still as their saved state prepared them.
   */
  private async deliverContent(
    lab: LabRow,
    machines: VmRow[],
    { report = true, prepared = new Set<string>() }: { report?: boolean; prepared?: ReadonlySet<string> } = {},
  ): Promise<void> {
    const written = await Promise.all(machines.map((vm) => this.content.deliverLabContent(lab, vm, prepared.has(vm.id))));
    if (report && written.includes(null)) {
      // Staff learn that tasks depending on injected files cannot be solved here.
      await this.events.publish(
        lab.id,
        'lab.warning',
        { message: `the ${this.driver.kind} hypervisor has no guest channel: the lab's files were not delivered` },
        { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id), staffOnly: true },
      );
    }
  }

  private async startVm(vm: VmRow): Promise<string> {
    await this.driver.startVm(vm.driverName);
    return 'running';
  }

  private async stopVm(vm: VmRow): Promise<string> {
    await this.driver.stopVm(vm.driverName, { timeoutMs: 3000 });
    return 'stopped';
  }

  /** Takes the VM's initial snapshot unless it has one (`fresh`: just created, so it has none). */
  private async initialSnapshot(vm: VmRow, fresh = false): Promise<void> {
    const existing = fresh ? [] : await this.driver.listSnapshots(vm.driverName);
    if (!existing.some((s) => s.name === INITIAL_SNAPSHOT)) await this.driver.takeSnapshot(vm.driverName, INITIAL_SNAPSHOT);
  }

  private async revertVm(lab: LabRow, vm: VmRow): Promise<void> {
    await this.driver.revertSnapshot(vm.driverName, INITIAL_SNAPSHOT);
    // A snapshot without RAM leaves the VM stopped: a reset lab runs (resuming its saved state again, if it had one).
    const state = (await this.driver.getVm(vm.driverName))?.state;
    if (state === 'running') {
      await this.labs.setVmStatus(vm.id, 'running');
      await this.publish(lab, 'vm.status', { vmId: vm.id, name: vm.name, status: 'running' });
      return;
    }
    const savedState = (await this.states?.vmState(vm.id)) ?? undefined;
    await this.startChosen(
      lab,
      lab.config as LabTemplateConfig,
      vm,
      savedState ? { savedState, reason: 'restored from saved state' } : { reason: 'boot' },
      async () => {},
    );
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
    await this.released();
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
