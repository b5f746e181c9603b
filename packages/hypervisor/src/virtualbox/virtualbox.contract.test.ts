import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDriverContract } from '../contract/contract.suite.js';
import { VirtualBoxDriver } from './virtualbox.driver.js';

function hasVBoxManage(): boolean {
  try {
    execFileSync('VBoxManage', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// VirtualBox cannot be installed on our machines (CI included): there, the argv and parser tests
// beside this file are what checks the driver, and this file reports a visible skip (never a pass).
// Wherever VBoxManage exists, the driver must pass the same contract as every other driver,
// against the real thing, with an appliance to clone (CTP_VBOX_APPLIANCE).
const here = hasVBoxManage();

describe.skipIf(!here)(
  `the VirtualBox driver on a real VirtualBox${here ? '' : ' (skipped: VBoxManage is absent on this machine)'}`,
  () => {
    it('has an appliance to test with (CTP_VBOX_APPLIANCE)', () => {
      expect(process.env.CTP_VBOX_APPLIANCE, 'set CTP_VBOX_APPLIANCE to an OVA with a bootable guest').toBeTruthy();
    });

    if (process.env.CTP_VBOX_APPLIANCE) {
      runDriverContract(
        'virtualbox',
        async () => {
          const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-contract-'));
          const driver = new VirtualBoxDriver({ stateDir });
          return {
            driver,
            image: { kind: 'appliance', path: process.env.CTP_VBOX_APPLIANCE! },
            leftovers: async () => (await driver.listVms()).map((vm) => `vm ${vm.name}`),
            cleanup: async () => rmSync(stateDir, { recursive: true, force: true }),
          };
        },
        600_000,
      );
    }
  },
);
