import path from 'node:path';
import { chooseNetworkBackend, QemuDriver, runCommand, type HypervisorDriver } from '@ctp/hypervisor';
import type { Config } from './config.js';

/** The hypervisor driver the platform runs on: QEMU (KVM when it really works, else TCG). */
export async function createHypervisorDriver(config: Config): Promise<HypervisorDriver> {
  const network = await chooseNetworkBackend(runCommand);
  return new QemuDriver({ stateDir: path.join(config.dataDir, 'vms'), runner: runCommand, network, accelerator: config.accelerator });
}
