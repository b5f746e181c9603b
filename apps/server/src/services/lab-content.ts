import type { LabTemplateConfig } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { guestChannelOf } from './guest-channel.js';
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

  /** Writes every inject file of the VM; waits for the guest agent first. Idempotent (files are overwritten). */
  async deliverLabContent(lab: DeliveryTarget['lab'], vm: DeliveryTarget['vm']): Promise<number> {
    const config = lab.config as LabTemplateConfig;
    const files = (config.inject ?? []).filter((i) => i.vm === vm.name);
    if (!files.length) return 0;
    const channel = guestChannelOf(this.driver);
    if (!channel) throw new Error(`the ${this.driver.kind} driver has no guest channel to deliver files into VM ${vm.name}`);
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
