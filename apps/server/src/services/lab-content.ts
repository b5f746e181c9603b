import type { LabTemplateConfig } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { fillPlaceholders } from './secrets.js';

/** What delivery needs to know about a lab and one of its VMs. */
export interface DeliveryTarget {
  lab: { id: string; config: unknown };
  vm: { name: string; driverName: string };
}

const AGENT_TIMEOUT_MS = 60_000;

/** Where a resumed guest finds its lab's identity, and the program in the guest that applies it (run when present). */
export const IDENTITY_FILE = '/etc/ctp/identity';
export const IDENTITY_PROGRAM = '/sbin/ctp-identity';

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
   * Gives a guest resumed from a template's saved state its own lab's identity: the reference VM
   * it was saved from booted with the template's values only. One guest command where the image
   * has an identity program: it takes the identity on stdin, keeps it in the identity file and
   * applies it (every guest command costs a freshly resumed TCG guest a few hundred ms of CPU,
   * and a class starts dozens at once). An image without the program gets the file only.
   * Returns false when this hypervisor has no guest channel (the guest keeps the template's identity).
   */
  async deliverIdentity(vmDriverName: string, kernelArgs: string): Promise<boolean> {
    if (!(await this.driver.probe()).capabilities.guestAgent) return false;
    await this.driver.waitForGuestAgent(vmDriverName, AGENT_TIMEOUT_MS);
    const identity = identityFile(kernelArgs);
    const applied = await this.driver.guestExec(vmDriverName, { argv: [IDENTITY_PROGRAM, '-'], input: identity, timeoutMs: 10_000 });
    if (applied.exitCode === 127) {
      await this.driver.guestWriteFile(vmDriverName, { path: IDENTITY_FILE, content: identity, mode: 0o644 });
      return true;
    }
    if (applied.exitCode !== 0) throw new Error(`the guest could not apply its lab identity (exit code ${applied.exitCode})`);
    return true;
  }

  /**
   * Writes every inject file of the VM; waits for the guest agent first. Idempotent (files are
   * overwritten). Returns how many files were written, or null when this hypervisor has no guest
   * channel (the lab then runs without them, and the caller reports it).
   */
  async deliverLabContent(lab: DeliveryTarget['lab'], vm: DeliveryTarget['vm']): Promise<number | null> {
    const config = lab.config as LabTemplateConfig;
    const files = (config.inject ?? []).filter((i) => i.vm === vm.name);
    if (!files.length) return 0;
    if (!(await this.driver.probe()).capabilities.guestAgent) return null;
    const channel = this.driver;
    await channel.waitForGuestAgent(vm.driverName, AGENT_TIMEOUT_MS);
    const values = this.secretValues(lab.id, config);
    for (const file of files) {
      await channel.guestWriteFile(vm.driverName, {
        path: file.path,
        content: fillPlaceholders(file.content, values),
        ...(file.mode ? { mode: parseInt(file.mode, 8) } : {}),
        ...(file.owner ? { owner: file.owner } : {}),
      });
    }
    return files.length;
  }
}
