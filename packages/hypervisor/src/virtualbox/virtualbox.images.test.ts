import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { shortHash } from '../short-hash.js';
import { ScriptedRunner, type Expected } from '../test-support/scripted-runner.js';
import { VirtualBoxDriver } from './virtualbox.driver.js';

// Library disks on VirtualBox: the qcow2 converted once to a VDI in a base VM, linked clones of
// it, and the cloud-init seed as a DVD. Exact argv (VirtualBox cannot be installed here).
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const V = (...args: string[]) => ['VBoxManage', '-q', ...args];
const disk = { kind: 'disk' as const, path: '/var/lib/ctp/images/abc/disk.qcow2', format: 'qcow2' as const, firmware: 'uefi' as const };
const base = `ctpbase-${shortHash(disk.path, 10)}`;

describe('VirtualBox driver: library disk images', () => {
  it('converts a qcow2 to a VDI base once, clones it linked, and attaches the cloud-init seed as a DVD', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-img-'));
    const vdi = path.join(stateDir, `${base}.vdi`);
    const seed = path.join(stateDir, 'lab1-deb.seed.iso');
    const port = String(5900 + (parseInt(shortHash('lab1-deb', 6), 16) % 1000));
    const script: Expected[] = [
      { argv: ['VBoxManage', '--version'], stdout: '7.0.14r161095\n' },
      { argv: V('showvminfo', base, '--machinereadable'), code: 1, stderr: fixture('error-not-found-7.0.txt') },
      { argv: ['qemu-img', 'convert', '-f', 'qcow2', '-O', 'vdi', disk.path, vdi] },
      { argv: V('createvm', '--name', base, '--ostype', 'Linux_64', '--register') },
      { argv: V('modifyvm', base, '--firmware', 'efi') },
      { argv: V('storagectl', base, '--name', 'SATA', '--add', 'sata', '--controller', 'IntelAhci') },
      { argv: V('storageattach', base, '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', vdi) },
      { argv: V('snapshot', base, 'take', 'ctp-base') },
      { argv: V('clonevm', base, '--snapshot', 'ctp-base', '--options', 'link', '--name', 'lab1-deb', '--groups', '/ctp', '--register') },
      {
        argv: V(
          'modifyvm',
          'lab1-deb',
          '--cpus',
          '1',
          '--memory',
          '512',
          '--uart1',
          '0x3F8',
          '4',
          '--uart-mode1',
          'server',
          path.join(stateDir, 'lab1-deb.serial'),
          '--vrde',
          'on',
          '--vrde-port',
          port,
          '--vrde-address',
          '127.0.0.1',
        ),
      },
      {
        argv: [
          'genisoimage',
          '-quiet',
          '-output',
          seed,
          '-volid',
          'cidata',
          '-joliet',
          '-rock',
          `${seed}.files/meta-data`,
          `${seed}.files/user-data`,
          `${seed}.files/network-config`,
        ],
      },
      {
        argv: V(
          'storageattach',
          'lab1-deb',
          '--storagectl',
          'SATA',
          '--port',
          '1',
          '--device',
          '0',
          '--type',
          'dvddrive',
          '--medium',
          seed,
        ),
      },
      { argv: V('showvminfo', 'lab1-deb', '--machinereadable'), stdout: fixture('showvminfo-6.1-poweroff.txt') },
    ];
    const runner = new ScriptedRunner(script);
    const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
    await driver.createVm({
      name: 'lab1-deb',
      image: disk,
      cpus: 1,
      memoryMiB: 512,
      nics: [],
      cloudInit: { metaData: 'instance-id: lab1-deb\n', userData: '#cloud-config\n', networkConfig: 'version: 2\n' },
    });
    expect(runner.remaining()).toEqual([]);
  });

  it('refuses disks that boot through a kernel outside them (VirtualBox has no direct kernel boot)', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-img-'));
    const runner = new ScriptedRunner([{ argv: ['VBoxManage', '--version'], stdout: '7.0.14r161095\n' }]);
    const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
    const refused = await driver
      .createVm({
        name: 'lab1-deb',
        image: { ...disk, boot: { kernel: '/k', initrd: '/i', cmdline: '' } },
        cpus: 1,
        memoryMiB: 512,
        nics: [],
      })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'unsupported' });
  });
});
