import path from 'node:path';
import { chooseNetworkBackend, QemuDriver, runCommand, type HypervisorDriver } from '@ctp/hypervisor';
import type { Config } from './config.js';
import { DEFAULT_IMAGES_DIR } from './services/image-catalog.js';

/** The hypervisor driver the platform runs on: QEMU (KVM when it really works, else TCG). */
export async function createHypervisorDriver(config: Config): Promise<HypervisorDriver> {
  const stateDir = path.join(config.dataDir, 'vms');
  const network = await chooseNetworkBackend(runCommand, path.join(config.dataDir, 'networks'));
  return new QemuDriver({
    stateDir,
    runner: runCommand,
    network,
    accelerator: config.accelerator,
    ...(config.tcgTranslationCacheMiB ? { tcgTranslationCacheMiB: config.tcgTranslationCacheMiB } : {}),
    savedStateDir: path.join(config.dataDir, 'saved-states'),
    // KVM can start and then hang: the probe boots the demo kernel to be sure.
    probeKernel: path.join(config.imagesDir ?? DEFAULT_IMAGES_DIR, 'vmlinuz'),
  });
}
