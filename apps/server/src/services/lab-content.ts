import type { LabTemplateConfig } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { fillPlaceholders } from './secrets.js';

/** What delivery needs to know about a lab and one of its VMs. */
export interface DeliveryTarget {
  lab: { id: string; config: unknown };
  vm: { name: string; driverName: string };
}

const AGENT_TIMEOUT_MS = 60_000;

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
