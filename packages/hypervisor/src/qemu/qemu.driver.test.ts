import { mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../command-runner.js';
import { BridgeNetworkBackend, ownerOf } from './network/bridge.network.js';
import { demoImages } from '../test-support/demo-images.js';
import { testAcceleratorCache } from '../test-support/accelerator-cache.js';
import { qemuLeftovers, qemuProcesses } from '../test-support/host.js';
import { SerialReader } from '../test-support/serial.js';
import { QemuDriver } from './qemu.driver.js';

describe('QEMU driver with a real guest', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-qemu-'));
  const images = demoImages();
  const network = new BridgeNetworkBackend(runCommand, ownerOf(stateDir));
  const make = () =>
    new QemuDriver({ stateDir, network, probeKernel: images.attacker.kernel, acceleratorCacheFile: testAcceleratorCache() });
  let driver = make();
  const id = Math.random().toString(36).slice(2, 8);
  const vm = `q${id}-box`;
  const lan = `q${id}-lan`;

  beforeAll(async () => {
    await driver.createNetwork({ name: lan });
    await driver.createVm({
      name: vm,
      image: images.attacker,
      cpus: 1,
      memoryMiB: 128,
      nics: [{ network: lan }],
      kernelArgs: 'ctp.hostname=box ctp.ip=10.0.0.10/24',
    });
    await driver.startVm(vm);
  });
  afterAll(async () => {
    await driver.destroyVm(vm).catch(() => {});
    await driver.destroyNetwork(lan).catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('reports which accelerator it uses and why', async () => {
    const host = await driver.probe();
    expect(['kvm', 'tcg']).toContain(host.accelerator);
    expect(host.notes.join(' ')).toMatch(host.accelerator === 'kvm' ? /KVM works/ : /TCG/);
    const forced = await new QemuDriver({ stateDir: path.join(stateDir, 'other'), network, accelerator: 'tcg' }).probe();
    expect(forced.accelerator).toBe('tcg');
    rmSync(path.join(stateDir, 'other'), { recursive: true, force: true });
  });

  it('boots the guest to its readiness line, shared by several viewers with scrollback', async () => {
    const first = new SerialReader(await driver.openConsole(vm, 'serial'));
    await first.waitFor('CTP-READY attacker box');
    // A viewer that comes later still sees the boot, from the log.
    const late = new SerialReader(await driver.openConsole(vm, 'serial'));
    await late.waitFor('CTP-READY attacker box', 5000);
    const out = await late.run('echo shared-$((6*7))');
    expect(out).toContain('shared-42');
    await first.waitFor('shared-42', 5000);
    first.close();
    late.close();
  });

  it('pauses and resumes the guest', async () => {
    await driver.pauseVm(vm);
    expect((await driver.getVm(vm))?.state).toBe('paused');
    await driver.resumeVm(vm);
    const serial = new SerialReader(await driver.openConsole(vm, 'serial'));
    expect(await serial.run('echo alive')).toContain('alive');
    serial.close();
  });

  it('reverts a RAM snapshot: a file written after it is gone, the guest still runs', async () => {
    const serial = new SerialReader(await driver.openConsole(vm, 'serial'));
    await serial.run('rm -f /root/after-snapshot');
    const snapshot = await driver.takeSnapshot(vm, 'clean');
    expect(snapshot.withMemory).toBe(true);
    expect(await serial.run('echo written > /root/after-snapshot && ls /root')).toContain('after-snapshot');
    serial.close();
    await driver.revertSnapshot(vm, 'clean');
    expect((await driver.getVm(vm))?.state).toBe('running');
    const after = new SerialReader(await driver.openConsole(vm, 'serial'));
    const listing = await after.run('ls /root; echo listed');
    expect(listing).toContain('listed');
    expect(listing).not.toContain('after-snapshot');
    after.close();
  });

  it('speaks RFB on the VNC console', async () => {
    const vnc = await driver.openConsole(vm, 'vnc');
    const greeting = await new Promise<string>((resolve) => vnc.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(greeting).toMatch(/^RFB 003\.00\d\n/);
    vnc.destroy();
    // VNC takes several viewers at once.
    const a = (await driver.openConsole(vm, 'vnc')) as net.Socket;
    const b = (await driver.openConsole(vm, 'vnc')) as net.Socket;
    const both = await Promise.all(
      [a, b].map((s) => new Promise<string>((resolve) => s.once('data', (c: Buffer) => resolve(c.toString())))),
    );
    expect(both.every((g) => g.startsWith('RFB'))).toBe(true);
    a.destroy();
    b.destroy();
  });

  it('finds and controls its VMs again after a restart of the driver', async () => {
    driver.close();
    driver = make();
    expect((await driver.listVms()).map((v) => [v.name, v.state])).toEqual([[vm, 'running']]);
    const serial = new SerialReader(await driver.openConsole(vm, 'serial'));
    expect(await serial.run('echo still-here')).toContain('still-here');
    serial.close();
    await driver.stopVm(vm, { timeoutMs: 500 });
    expect((await driver.getVm(vm))?.state).toBe('stopped');
    expect(qemuProcesses(stateDir)).toEqual([]);
  });

  it('snapshots a stopped VM on disk and reverts it, then boots again', async () => {
    const disk = await driver.takeSnapshot(vm, 'cold');
    expect(disk.withMemory).toBe(false);
    await driver.revertSnapshot(vm, 'cold');
    expect((await driver.getVm(vm))?.state).toBe('stopped');
    // The RAM snapshot taken earlier brings the guest back running, exactly where it was.
    await driver.revertSnapshot(vm, 'clean');
    expect((await driver.getVm(vm))?.state).toBe('running');
    const serial = new SerialReader(await driver.openConsole(vm, 'serial'));
    expect(await serial.run('echo resumed')).toContain('resumed');
    serial.close();
  });

  it('destroys everything: processes, sockets, overlays, taps, bridges and rules', async () => {
    await driver.destroyVm(vm);
    await driver.destroyNetwork(lan);
    expect(qemuLeftovers(stateDir)).toEqual([]);
  });
});
