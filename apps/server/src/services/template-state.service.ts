import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import type { LabTemplateConfig } from '@ctp/contracts';
import type { BaseImage, HypervisorDriver } from '@ctp/hypervisor';
import { guestArgs } from './guest-settings.js';
import type { TemplateStateRow, TemplateStatesRepository } from '../repositories/template-states.repository.js';
import type { TemplatesRepository } from '../repositories/templates.repository.js';
import type { ImageCatalog } from './image-catalog.js';

/** How one VM of a lab starts: from a saved state, or cold; `reason` is what the lab's steps show. */
export interface BootChoice {
  savedState?: string;
  reason: string;
}

/** Resolves once the guest in a freshly booted VM is ready to be saved (throws after `timeoutMs`). */
export type GuestReady = (driver: HypervisorDriver, vmName: string, timeoutMs: number) => Promise<void>;

export const RESTORED = 'restored from saved state';
/** Changes whenever what `prepareFiles` leaves in a reference VM changes (older states are then made again). */
const PREPARED_RECIPE = 'identity+inject files, empty, v1';
const READY_TIMEOUT_MS = 180_000;
// A preparation that has not finished in this time died with its server.
const ABANDONED_AFTER_MS = 15 * 60_000;
// After a failed preparation, labs boot cold for a while before the platform tries again.
const RETRY_FAILED_AFTER_MS = 30 * 60_000;

/** The demo guests' readiness: `CTP-READY <role> <host>` on the serial console. */
export const consoleReady: GuestReady = async (driver, vmName, timeoutMs) => {
  const stream = await driver.openConsole(vmName, 'serial');
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`the guest did not report ready within ${timeoutMs / 1000} s`)), timeoutMs);
      stream.on('data', (chunk: Buffer) => {
        text = (text + chunk.toString('utf8')).slice(-4096);
        if (/CTP-READY \S+ \S+/.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } finally {
    stream.destroy();
  }
};

/**
 * Template states: for each VM of a template version, a reference VM is booted once, and its
 * running state saved (by the driver: RAM plus a read-only disk layer). Labs' VMs then resume
 * that state instead of booting. A state is keyed by everything it depends on (template
 * version and VM, image files, hypervisor version, machine type), so any change makes a new one.
 */
export class TemplateStateService {
  constructor(
    private readonly states: TemplateStatesRepository,
    private readonly templates: TemplatesRepository,
    private readonly driver: HypervisorDriver,
    private readonly images: ImageCatalog,
    private readonly enqueuePrepare: (templateId: string, version: number) => Promise<void>,
    /**
     * `hostId`: the host whose disk holds the states this process makes (each host prepares its own).
     * `prepareFiles`: empties the files a lab's values go into, in the reference VM before it is saved (LabContentDelivery).
     */
    private readonly options: {
      enabled: boolean;
      guestReady?: GuestReady;
      hostId?: () => Promise<string | null>;
      prepareFiles?: (vmDriverName: string, config: LabTemplateConfig, vmName: string) => Promise<void>;
    },
  ) {}

  /** Decides how a lab's VM starts, and starts preparing a state in the background where one is missing. */
  async choose(
    lab: { templateId: string | null; templateVersion: number; config: LabTemplateConfig },
    vmName: string,
  ): Promise<BootChoice> {
    if (!this.options.enabled) return { reason: 'cold boot: saved states are turned off' };
    const vm = lab.config.vms.find((v) => v.name === vmName);
    if (!lab.templateId || !vm) return { reason: 'cold boot: not from a template' };
    if (vm.boot === 'cold') return { reason: 'cold boot: the template asks for it' };
    const host = await this.driver.probe();
    if (!host.capabilities.savedStates) return { reason: `cold boot: the ${host.driver} driver cannot start from saved states` };
    const resolved = await this.images.resolve(vm.image);
    if (!resolved) return { reason: 'cold boot: its image is not available' };
    // A saved state would carry another lab's generated login, host keys and leases: such guests boot.
    if (resolved.configMethod !== 'none') return { reason: `cold boot: its guest is configured per lab (${resolved.configMethod})` };
    const key = await this.keyFor(lab.templateId, lab.templateVersion, lab.config, vmName);
    if (!key) return { reason: 'cold boot: its image is not available' };
    const row = await this.states.findByKey(key.key);
    if (row?.status === 'ready') {
      if ((await this.driver.listSavedStates()).some((s) => s.name === row.stateName))
        return { savedState: row.stateName, reason: RESTORED };
      await this.markStale(row.stateName, 'its files are missing');
      return { reason: 'cold boot: the saved state is missing' };
    }
    if (row?.status === 'preparing') return { reason: 'cold boot: the saved state is being prepared' };
    if (row?.status === 'failed' && Date.now() - row.updatedAt.getTime() < RETRY_FAILED_AFTER_MS)
      return { reason: 'cold boot: preparing a saved state failed' };
    await this.enqueuePrepare(lab.templateId, lab.templateVersion);
    return { reason: 'cold boot: no saved state yet' };
  }

  /** Marks a state unusable (it failed to load, its files are gone) and prepares a new one in the background. */
  async markStale(stateName: string, why: string): Promise<void> {
    const row = await this.states.findByStateName(stateName);
    await this.states.markStale(stateName, why);
    if (row) await this.enqueuePrepare(row.templateId, row.templateVersion);
  }

  /** The background job: prepares the missing states of a template version, one VM at a time, and removes unused ones. */
  async prepare(templateId: string, version: number): Promise<void> {
    if (!this.options.enabled) return;
    const template = await this.templates.findById(templateId);
    if (!template) return;
    await this.removeUnused(templateId, template.version);
    const config = (await this.states.versionConfig(templateId, version)) as LabTemplateConfig | undefined;
    if (!config || !(await this.driver.probe()).capabilities.savedStates) return;
    for (const vm of config.vms) {
      if (vm.boot === 'cold') continue;
      await this.prepareVm(templateId, version, config, vm.name);
    }
    // Again at the end: a lab that left a state while this job ran has let it go by now.
    await this.removeUnused(templateId, template.version);
  }

  /** Records which saved state a lab's VM was created from (null: it boots), so the state is kept while the VM lives. */
  recordVm(vmId: string, stateName: string | null): Promise<void> {
    return this.states.recordVm(vmId, stateName);
  }

  /** The saved state a lab's VM was created from, if any. */
  vmState(vmId: string): Promise<string | null> {
    return this.states.vmState(vmId);
  }

  /** Whether a hypervisor name (VM or network) belongs to a state being prepared now (its reference VM and networks). */
  async inPreparation(driverName: string): Promise<boolean> {
    const match = /^(ts[0-9a-f]{18})-/.exec(driverName);
    if (!match) return false;
    return (await this.states.findByStateName(match[1]!))?.status === 'preparing';
  }

  /** The states of a template (for staff and tests). */
  list(templateId: string): Promise<TemplateStateRow[]> {
    return this.states.listForTemplate(templateId);
  }

  private async prepareVm(templateId: string, version: number, config: LabTemplateConfig, vmName: string): Promise<void> {
    const key = await this.keyFor(templateId, version, config, vmName);
    if (!key) return;
    const existing = await this.states.findByKey(key.key);
    if (existing?.status === 'ready') return;
    const stateName = `ts${key.key.slice(0, 12)}${randomBytes(3).toString('hex')}`;
    const row = await this.states.claim(
      {
        templateId,
        templateVersion: version,
        vmName,
        key: key.key,
        image: key.imageName,
        hypervisorVersion: key.version,
        machine: key.machine,
        stateName,
      },
      ABANDONED_AFTER_MS,
    );
    if (!row) return;
    const started = Date.now();
    const vm = config.vms.find((v) => v.name === vmName)!;
    const ref = `${stateName}-ref`;
    const networks = vm.nics.map((_, i) => `${stateName}-n${i}`);
    try {
      for (const name of networks) await this.driver.createNetwork({ name, group: stateName });
      // The reference boots as a lab's VM would, with the template's addresses but nothing of any lab.
      const nics = vm.nics.map((nic) => ({ network: nic.network, address: nic.address ?? null }));
      await this.driver.createVm({
        name: ref,
        image: key.image,
        cpus: vm.cpus ?? 1,
        memoryMiB: vm.memoryMiB ?? 128,
        nics: networks.map((network) => ({ network })),
        kernelArgs: guestArgs(null, vm.name, nics, config, vm.settings),
        scratchDiskMiB: 64,
        saveable: true,
      });
      await this.driver.startVm(ref);
      await (this.options.guestReady ?? consoleReady)(this.driver, ref, READY_TIMEOUT_MS);
      await this.options.prepareFiles?.(ref, config, vm.name);
      const saved = await this.driver.saveState(ref, stateName);
      await this.states.update(row.id, { status: 'ready', sizeBytes: saved.sizeBytes, prepareMs: Date.now() - started });
    } catch (error) {
      await this.driver.deleteSavedState(stateName).catch(() => {});
      await this.states.update(row.id, { status: 'failed', error: error instanceof Error ? error.message : String(error) });
    } finally {
      await this.driver.destroyVm(ref).catch(() => {});
      for (const name of networks) await this.driver.destroyNetwork(name).catch(() => {});
    }
  }

  /** Deletes states that no live lab's VM sits on any more (damaged, failed, or of older template versions). */
  private async removeUnused(templateId: string, currentVersion: number): Promise<void> {
    // A saved state whose files are on another host is that host's agent's to remove (with its files).
    const here = new Set((await this.driver.listSavedStates()).map((s) => s.name));
    for (const row of await this.states.unused(templateId, currentVersion)) {
      if ((row.status === 'ready' || row.status === 'stale') && !here.has(row.stateName)) continue;
      await this.driver.deleteSavedState(row.stateName).catch(() => {});
      await this.states.delete(row.id);
    }
  }

  /** The key of a template VM's state: a hash of everything a saved state depends on. */
  private async keyFor(
    templateId: string,
    version: number,
    config: LabTemplateConfig,
    vmName: string,
  ): Promise<{ key: string; image: BaseImage; imageName: string; version: string; machine: string } | undefined> {
    const vm = config.vms.find((v) => v.name === vmName);
    const resolved = vm && (await this.images.resolve(vm.image));
    if (!vm || !resolved || resolved.configMethod !== 'none') return undefined;
    const image = resolved.base;
    const host = await this.driver.probe();
    const files = image.kind === 'kernel' ? [image.kernel, image.initrd] : [image.path];
    const fingerprint = files.map((file) => {
      const stat = existsSync(file) ? statSync(file) : undefined;
      return `${file}:${stat?.size ?? 0}:${stat?.mtimeMs ?? 0}`;
    });
    const { tasks: _tasks, description: _description, ...relevant } = config;
    const material = {
      // A state's files live on one host's disk: the same VM on another host has its own state.
      hostId: (await this.options.hostId?.()) ?? null,
      templateId,
      version,
      vm,
      networks: relevant.networks,
      image: { name: vm.image, ...image, fingerprint },
      driver: host.driver,
      hypervisorVersion: host.version,
      accelerator: host.accelerator,
      machine: host.machine ?? '',
      deviceLayout: host.deviceLayout ?? '',
      // The files the reference VM holds empty for a lab's values (prepareFiles): a state made
      // with other ones, or before they were prepared, is not filled in place.
      preparedFiles: this.options.prepareFiles
        ? [PREPARED_RECIPE, ...(config.inject ?? []).filter((i) => i.vm === vmName).map(({ path, mode, owner }) => ({ path, mode, owner }))]
        : null,
    };
    const key = createHash('sha256').update(JSON.stringify(material)).digest('hex');
    return { key, image, imageName: vm.image, version: host.version, machine: host.machine ?? '' };
  }
}
