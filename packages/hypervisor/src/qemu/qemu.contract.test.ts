import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '../command-runner.js';
import { runDriverContract } from '../contract/contract.suite.js';
import { BridgeNetworkBackend, ownerOf } from './network/bridge.network.js';
import { demoImages } from '../test-support/demo-images.js';
import { testAcceleratorCache } from '../test-support/accelerator-cache.js';
import { qemuLeftovers } from '../test-support/host.js';
import { QemuDriver } from './qemu.driver.js';

runDriverContract(
  'qemu',
  async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-qemu-contract-'));
    const images = demoImages();
    const driver = new QemuDriver({
      stateDir,
      network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
      probeKernel: images.attacker.kernel,
      acceleratorCacheFile: testAcceleratorCache(),
    });
    return {
      driver,
      image: images.attacker,
      leftovers: async () => qemuLeftovers(stateDir),
      cleanup: async () => rmSync(stateDir, { recursive: true, force: true }),
    };
  },
  120_000,
);
