import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ScriptedRunner } from '../test-support/scripted-runner.js';
import { macFor } from './network/names.js';
import { SocketNetworkBackend } from './network/socket.network.js';
import { qemuArgs } from './qemu-args.js';
import { QemuDriver } from './qemu.driver.js';
import { VmStateStore } from './vm-state.store.js';

describe('QEMU driver: the exact commands it runs', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-qemu-argv-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
  const kernel = path.join(stateDir, 'vmlinuz');
  const initrd = path.join(stateDir, 'attacker.initrd');
  writeFileSync(kernel, '');
  writeFileSync(initrd, '');

  it('creates a scratch overlay for a kernel image, then starts QEMU with the builder argv and its NIC', async () => {
    const vms = path.join(stateDir, 'vms');
    const network = new SocketNetworkBackend(path.join(stateDir, 'net'));
    const disk = path.join(vms, 'box', 'disk.qcow2');
    const spec = {
      name: 'box',
      image: { kind: 'kernel' as const, kernel, initrd, cmdline: 'console=ttyS0' },
      cpus: 1,
      memoryMiB: 128,
      nics: [{ network: 'lan' }],
      kernelArgs: 'ctp.ip=10.0.0.10/24',
    };
    const runner = new ScriptedRunner([
      { argv: ['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M'] },
      { argv: ['qemu-system-x86_64', '--version'], stdout: 'QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)\n' },
    ]);
    const driver = new QemuDriver({ stateDir: vms, network, runner: runner.run, accelerator: 'tcg' });
    await driver.createNetwork({ name: 'lan' });
    const nicArgs = await network.attachNic('lan', 'box', 0, macFor('box', 0));
    const paths = new VmStateStore(vms).paths('box');
    await driver.createVm(spec);
    runner.remaining().push({ argv: ['qemu-system-x86_64', ...qemuArgs({ name: 'box', spec, accelerator: 'tcg', paths, nicArgs })] });
    await driver.startVm('box');
    expect(runner.remaining()).toEqual([]);
    expect(nicArgs).toEqual([
      '-netdev',
      expect.stringMatching(/^socket,id=nic0,mcast=230\./),
      '-device',
      `virtio-net-pci,netdev=nic0,mac=${macFor('box', 0)}`,
    ]);
  });
});
