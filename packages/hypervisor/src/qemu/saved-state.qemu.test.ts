import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../command-runner.js';
import { HypervisorError } from '../errors.js';
import { demoImages } from '../test-support/demo-images.js';
import { qemuLeftovers, qemuProcesses } from '../test-support/host.js';
import { SerialReader } from '../test-support/serial.js';
import { BridgeNetworkBackend, ownerOf } from './network/bridge.network.js';
import { QemuDriver } from './qemu.driver.js';

describe('QEMU saved running states (real guests)', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-saved-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.target.kernel,
  });
  const id = Math.random().toString(36).slice(2, 8);
  const [ref, lab1, lab2, broken] = ['ref', 'l1', 'l2', 'bad'].map((n) => `s${id}-${n}`) as [string, string, string, string];
  const [refNet, net1, net2] = ['rn', 'n1', 'n2'].map((n) => `s${id}-${n}`) as [string, string, string];
  const state = `s${id}-state`;
  let refMac = '';

  beforeAll(async () => {
    for (const name of [refNet, net1, net2]) await driver.createNetwork({ name });
    const created = await driver.createVm({
      name: ref,
      image: images.target,
      cpus: 1,
      memoryMiB: 128,
      nics: [{ network: refNet }],
      kernelArgs: 'ctp.hostname=target ctp.ip=10.0.0.20/24',
      saveable: true,
    });
    refMac = created.nics[0]!.mac;
    await driver.startVm(ref);
    const serial = new SerialReader(await driver.openConsole(ref, 'serial'));
    await serial.waitFor('CTP-READY target target', 90_000);
    serial.close();
  });
  afterAll(async () => {
    for (const vm of [ref, lab1, lab2, broken]) await driver.destroyVm(vm).catch(() => {});
    for (const name of [refNet, net1, net2]) await driver.destroyNetwork(name).catch(() => {});
    driver.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('saves a running guest: its RAM and its disk, and leaves it stopped', async () => {
    const saved = await driver.saveState(ref, state);
    expect(saved).toMatchObject({ name: state, machine: 'pc', hypervisorVersion: (await driver.probe()).version });
    expect(saved.sizeBytes).toBeGreaterThan(1_000_000);
    // The RAM is a plain image beside a small stream of CPU and device state.
    const files = path.join(stateDir, '.saved-states', state);
    expect(statSync(path.join(files, 'memory.ram')).size).toBe(128 * 1024 * 1024);
    expect(statSync(path.join(files, 'memory.state')).size).toBeLessThan(32 * 1024 * 1024);
    expect((await driver.listSavedStates()).map((s) => s.name)).toEqual([state]);
    expect((await driver.getVm(ref))?.state).toBe('stopped');
    expect((await driver.probe()).capabilities.savedStates).toBe(true);
  });

  it('starts VMs from it on their own networks: running at once, with the saved addresses and MAC', async () => {
    for (const [vm, net] of [
      [lab1, net1],
      [lab2, net2],
    ] as const) {
      const created = await driver.createVm({
        name: vm,
        image: images.attacker,
        cpus: 2,
        memoryMiB: 64,
        nics: [{ network: net }],
        savedState: state,
      });
      // The saved guest's devices, not the spec's: the guest resumes exactly as it was.
      expect(created).toMatchObject({ cpus: 1, memoryMiB: 128, nics: [{ network: net, mac: refMac }] });
      await driver.takeSnapshot(vm, 'initial');
    }
    await Promise.all([driver.startVm(lab1), driver.startVm(lab2)]);
    for (const vm of [lab1, lab2]) {
      expect((await driver.getVm(vm))?.state).toBe('running');
      const serial = new SerialReader(await driver.openConsole(vm, 'serial'));
      // The scrollback is the saved guest's boot; the shell answers without a new boot.
      await serial.waitFor('CTP-READY target target', 5000);
      const out = await serial.run(
        'hostname; ip -o -4 addr show eth0; cat /sys/class/net/eth0/address; wget -qO- http://127.0.0.1/ | head -c 60',
      );
      expect(out).toContain('target');
      expect(out).toContain('10.0.0.20/24');
      expect(out).toContain(refMac);
      expect(out).toContain('Welcome to target');
      serial.close();
    }
    // Both map the saved RAM image copy-on-write: the pages they only read are shared, not copied.
    for (const vm of [lab1, lab2]) {
      const pid = Number(readFileSync(path.join(stateDir, vm, 'qemu.pid'), 'utf8'));
      const mapping = readFileSync(`/proc/${pid}/smaps`, 'utf8')
        .split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
        .find((m) => m.split('\n')[0]!.endsWith(`/${state}/memory.ram`));
      expect(mapping, 'the saved RAM image is mapped').toBeDefined();
      const kb = (field: string) => Number(mapping!.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))![1]);
      // (Shared_Dirty while the page cache has not written the new image back to disk yet.)
      expect(kb('Shared_Clean') + kb('Shared_Dirty'), mapping).toBeGreaterThan(4 * 1024);
      expect(kb('Pss')).toBeLessThan(kb('Rss'));
    }
  });

  it('gives two VMs restored from the same state their own secrets over the guest channel', async () => {
    const secrets = { [lab1]: `s1-${Math.random().toString(36).slice(2)}`, [lab2]: `s2-${Math.random().toString(36).slice(2)}` };
    for (const vm of [lab1, lab2]) {
      // The agent in the restored guest answers again on the new QEMU's channel.
      await driver.waitForGuestAgent(vm, 30_000);
      await driver.guestWriteFile(vm, { path: '/var/www/flag.txt', content: `${secrets[vm]}\n`, mode: 0o644 });
    }
    for (const vm of [lab1, lab2]) {
      expect((await driver.guestExec(vm, { argv: ['cat', '/var/www/flag.txt'] })).stdout).toBe(`${secrets[vm]}\n`);
      const serial = new SerialReader(await driver.openConsole(vm, 'serial'));
      expect(await serial.run('wget -qO- http://127.0.0.1/flag.txt')).toContain(secrets[vm]);
      serial.close();
    }
  });

  it('resets to the saved state again: a file written after the restore is gone', async () => {
    const serial = new SerialReader(await driver.openConsole(lab1, 'serial'));
    expect(await serial.run('echo mine > /root/after-restore; ls /root')).toContain('after-restore');
    serial.close();
    await driver.stopVm(lab1, { force: true });
    await driver.revertSnapshot(lab1, 'initial');
    await driver.startVm(lab1);
    const again = new SerialReader(await driver.openConsole(lab1, 'serial'));
    const listing = await again.run('ls /root; echo listed');
    expect(listing).toContain('listed');
    expect(listing).not.toContain('after-restore');
    again.close();
  });

  it('boots again when a restored guest reboots: QEMU still has its kernel (mapped from the file, not kept in its heap)', async () => {
    const serial = new SerialReader(await driver.openConsole(lab1, 'serial'));
    // Once the shell has answered, the scrollback is in: a readiness line after it is a new boot.
    await serial.run('true');
    const from = serial.output.length;
    await driver.rebootVm(lab1);
    await serial.waitFor('CTP-READY target target', 90_000, from);
    expect(await serial.run('hostname')).toContain('target');
    serial.close();
  });

  it('takes and reverts RAM snapshots of a restored VM', async () => {
    await driver.takeSnapshot(lab2, 'live');
    const serial = new SerialReader(await driver.openConsole(lab2, 'serial'));
    await serial.run('echo x > /root/later');
    serial.close();
    await driver.revertSnapshot(lab2, 'live');
    const after = new SerialReader(await driver.openConsole(lab2, 'serial'));
    expect(await after.run('ls /root; echo listed')).not.toContain('later');
    await after.run('echo y > /root/later');
    after.close();
    // A stopped VM loads the snapshot as QEMU starts: a new QEMU, its RAM anonymous this time.
    await driver.stopVm(lab2, { force: true });
    await driver.revertSnapshot(lab2, 'live');
    const loaded = new SerialReader(await driver.openConsole(lab2, 'serial'));
    const listing = await loaded.run('ls /root; echo listed');
    expect(listing).toContain('listed');
    expect(listing).not.toContain('later');
    loaded.close();
  });

  it('refuses a damaged state file at start, leaving the VM stopped and no process behind', async () => {
    await driver.createVm({ name: broken, image: images.target, cpus: 1, memoryMiB: 128, nics: [{ network: net1 }], savedState: state });
    const memory = path.join(stateDir, '.saved-states', state, 'memory.state');
    chmodSync(memory, 0o644);
    // Cut just after the stream's header. (Cut at 4096 bytes, in the RAM blocks' section, QEMU 7.2 sometimes stops
    // answering QMP instead of quitting: the driver then fails with 'timeout' after 30 s and kills it.)
    truncateSync(memory, 16);
    const error = await driver.startVm(broken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HypervisorError);
    expect((error as HypervisorError).code).toBe('command_failed');
    expect((await driver.getVm(broken))?.state).toBe('stopped');
    expect(qemuProcesses(path.join(stateDir, broken))).toEqual([]);
    await driver.destroyVm(broken);
  });

  it('refuses a missing state with not_found, and deletes states idempotently', async () => {
    await driver.deleteSavedState(state);
    await driver.deleteSavedState(state);
    const error = await driver
      .createVm({ name: broken, image: images.target, cpus: 1, memoryMiB: 128, nics: [{ network: net1 }], savedState: state })
      .catch((e: unknown) => e);
    expect((error as HypervisorError).code).toBe('not_found');
    expect(await driver.getVm(broken)).toBeNull();
  });

  it('leaves nothing behind', async () => {
    for (const vm of [ref, lab1, lab2]) await driver.destroyVm(vm);
    for (const name of [refNet, net1, net2]) await driver.destroyNetwork(name);
    expect(qemuLeftovers(stateDir).filter((l) => !l.startsWith('file .saved-states'))).toEqual([]);
  });
});
