import type { LabTemplateConfig } from '@ctp/contracts';
import type { GuestFile, HypervisorDriver } from '@ctp/hypervisor';
import { fillPlaceholders } from './secrets.js';

/** What delivery needs to know about a lab and one of its VMs. */
export interface DeliveryTarget {
  lab: { id: string; config: unknown };
  vm: { name: string; driverName: string };
}

const AGENT_TIMEOUT_MS = 60_000;

/** Where a guest resumed from a saved state finds its lab's identity (the demo guests keep a booted one's there too). */
export const IDENTITY_FILE = '/etc/ctp/identity';

/**
 * The identity file of a VM: the `ctp.KEY=VALUE` values of its kernel command line (hostname,
 * addresses, lab, non-secret settings) as `KEY=VALUE` lines. Nothing secret is in either.
 */
export function identityFile(kernelArgs: string): string {
  const lines = kernelArgs
    .split(' ')
    .filter((arg) => arg.startsWith('ctp.') && arg.includes('='))
    .map((arg) => arg.slice('ctp.'.length));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * Delivers a lab's `inject` files (with its secrets filled in) into a VM over the private guest
 * channel: after the VM starts, after a revert or reset, after a restore from saved state.
 * Never the kernel command line, never the serial console.
 */
export class LabContentDelivery {
  constructor(
    private readonly driver: HypervisorDriver,
    private readonly secretValues: (labId: string, config: LabTemplateConfig) => Record<string, string>,
  ) {}

  /** True when the lab has files to put into this VM. */
  hasContentFor(lab: DeliveryTarget['lab'], vmName: string): boolean {
    return ((lab.config as LabTemplateConfig).inject ?? []).some((i) => i.vm === vmName);
  }

  /**
   * Empties a reference VM's identity file and its own inject files, each in its mode and owner,
   * before its state is saved (nothing of any lab is in them). A guest resumed from that state then
   * gets its lab's values in place, without starting a guest program (see `GuestFile.prepared`).
   */
  async prepareFiles(vmDriverName: string, config: LabTemplateConfig, vmName: string): Promise<void> {
    if (!(await this.driver.probe()).capabilities.guestAgent) return;
    await this.driver.waitForGuestAgent(vmDriverName, AGENT_TIMEOUT_MS);
    const files = [{ path: IDENTITY_FILE, content: '', mode: 0o644 }, ...injectFiles(config, vmName, () => '')];
    for (const file of files) await this.driver.guestWriteFile(vmDriverName, file);
  }

  /**
   * Gives a guest resumed from a template's saved state its own lab's identity: the reference VM
   * it was saved from booted with the template's values only, which differ from a lab's in the lab
   * alone. The identity file is filled in place (prepared), so no guest program runs: under TCG,
   * the first one a freshly resumed guest starts costs it ~200 ms of host CPU, and a class starts
   * dozens at once. Returns false when this hypervisor has no guest channel.
   */
  async deliverIdentity(vmDriverName: string, kernelArgs: string): Promise<boolean> {
    if (!(await this.driver.probe()).capabilities.guestAgent) return false;
    await this.driver.waitForGuestAgent(vmDriverName, AGENT_TIMEOUT_MS);
    await this.driver.guestWriteFile(vmDriverName, { path: IDENTITY_FILE, content: identityFile(kernelArgs), mode: 0o644, prepared: true });
    return true;
  }

  /**
   * Writes every inject file of the VM; waits for the guest agent first. Idempotent (files are
   * overwritten). `prepared`: the VM resumed a template's saved state and nobody used it since, so
   * its files are still as `prepareFiles` left them. Returns how many files were written, or null
   * when this hypervisor has no guest channel (the lab then runs without them, and the caller reports it).
   */
  async deliverLabContent(lab: DeliveryTarget['lab'], vm: DeliveryTarget['vm'], prepared = false): Promise<number | null> {
    if (!this.hasContentFor(lab, vm.name)) return 0;
    if (!(await this.driver.probe()).capabilities.guestAgent) return null;
    await this.driver.waitForGuestAgent(vm.driverName, AGENT_TIMEOUT_MS);
    const values = this.secretValues(lab.id, lab.config as LabTemplateConfig);
    const files = injectFiles(lab.config as LabTemplateConfig, vm.name, (content) => fillPlaceholders(content, values));
    for (const file of files) await this.driver.guestWriteFile(vm.driverName, prepared ? { ...file, prepared: true } : file);
    return files.length;
  }
}

/** A VM's inject files as guest files, their content made by `content` from the template's. */
function injectFiles(config: LabTemplateConfig, vmName: string, content: (template: string) => string): GuestFile[] {
  return (config.inject ?? [])
    .filter((file) => file.vm === vmName)
    .map((file) => ({
      path: file.path,
      content: content(file.content),
      ...(file.mode ? { mode: parseInt(file.mode, 8) } : {}),
      ...(file.owner ? { owner: file.owner } : {}),
    }));
}
