import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../command-runner.js';
import type { BaseImage } from '../driver.js';
import { DEMO_IMAGES_DIR, demoImages } from '../test-support/demo-images.js';
import { SerialReader } from '../test-support/serial.js';
import { BridgeNetworkBackend, ownerOf } from './network/bridge.network.js';
import { QemuDriver } from './qemu.driver.js';

const images = demoImages();
/** The demo kernel as Debian ships it (a bzImage with the EFI stub); the demo images boot its uncompressed ELF. */
const efiKernel = path.join(DEMO_IMAGES_DIR, 'vmlinuz');

/**
 * UEFI images on real QEMU with Debian's OVMF: a disk whose only way to boot is UEFI (a FAT
 * filesystem holding the demo kernel, its EFI stub, and a `startup.nsh` for OVMF's shell; no
 * bootloader a BIOS could run), and the same boot files as the EFI El Torito image of an ISO
 * attached as a CD-ROM (installer media), with the blank disk an installer would install onto.
 * The guests are the busybox demo guests, so each boot takes seconds, not minutes.
 */
describe('UEFI firmware (OVMF) and ISO media on real QEMU', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'ctp-uefi-'));
  const stateDir = path.join(work, 'state');
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.attacker.kernel,
  });
  const id = Math.random().toString(36).slice(2, 7);
  const consoles: SerialReader[] = [];
  const vms: string[] = [];

  /** A FAT filesystem with the demo kernel (an EFI program: Debian builds it with the EFI stub), its initrd and startup.nsh. */
  const bootFiles = (file: string, hostname: string) => {
    const nsh = path.join(work, `${hostname}.nsh`);
    writeFileSync(nsh, `fs0:\r\n\\vmlinuz.efi initrd=\\initrd ${images.attacker.cmdline} ctp.hostname=${hostname}\r\n`);
    execFileSync('truncate', ['-s', '48M', file]);
    execFileSync('mkfs.fat', ['-n', 'CTPEFI', file], { stdio: 'ignore' });
    execFileSync('mcopy', ['-i', file, efiKernel, '::/vmlinuz.efi']);
    execFileSync('mcopy', ['-i', file, images.attacker.initrd, '::/initrd']);
    execFileSync('mcopy', ['-i', file, nsh, '::/startup.nsh']);
  };

  const boot = async (name: string, image: BaseImage, readyAs: string) => {
    await driver.createVm({ name, image, cpus: 1, memoryMiB: 256, nics: [], scratchDiskMiB: 100 });
    vms.push(name);
    await driver.startVm(name);
    const serial = new SerialReader(await driver.openConsole(name, 'serial'));
    consoles.push(serial);
    await serial.waitFor(`CTP-READY attacker ${readyAs}`, 150_000);
    return serial;
  };

  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const vm of vms) await driver.destroyVm(vm).catch(() => {});
    driver.close();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('boots a UEFI disk image through OVMF (the guest sees EFI), which the BIOS cannot boot', async () => {
    const raw = path.join(work, 'uefi.raw');
    bootFiles(raw, 'uefidisk');
    const disk = path.join(work, 'uefi.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, disk]);

    const serial = await boot(`u${id}-disk`, { kind: 'disk', path: disk, format: 'qcow2', firmware: 'uefi' }, 'uefidisk');
    expect(await serial.run('test -d /sys/firmware/efi && echo FIRMWARE-IS-UEFI || echo FIRMWARE-IS-BIOS')).toContain('FIRMWARE-IS-UEFI');
    expect(serial.output).toContain('startup.nsh');

    // The same disk with BIOS firmware: SeaBIOS finds nothing to boot on it.
    const bios = new SerialReader(
      await (async () => {
        const name = `u${id}-bios`;
        await driver.createVm({
          name,
          image: { kind: 'disk', path: disk, format: 'qcow2', firmware: 'bios' },
          cpus: 1,
          memoryMiB: 256,
          nics: [],
        });
        vms.push(name);
        await driver.startVm(name);
        return driver.openConsole(name, 'serial');
      })(),
    );
    consoles.push(bios);
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    expect(bios.output).not.toContain('CTP-READY');
  }, 240_000);

  it('boots an ISO attached as a CD-ROM (EFI El Torito) with a blank disk to install onto', async () => {
    const isoRoot = path.join(work, 'iso');
    mkdirSync(isoRoot);
    bootFiles(path.join(isoRoot, 'efi.img'), 'isoguest');
    writeFileSync(path.join(isoRoot, 'README.TXT'), 'installer media\n');
    const iso = path.join(work, 'installer.iso');
    execFileSync('genisoimage', ['-quiet', '-o', iso, '-V', 'CTPISO', '-e', 'efi.img', '-no-emul-boot', isoRoot]);

    const serial = await boot(`u${id}-iso`, { kind: 'iso', path: iso, firmware: 'uefi' }, 'isoguest');
    // Booted from the CD-ROM's EFI image (the blank disk has nothing on it), by UEFI.
    expect(await serial.run('test -d /sys/firmware/efi && echo FIRMWARE-IS-UEFI')).toContain('FIRMWARE-IS-UEFI');
    // The installer's target: a blank disk of the size asked for, attached as a virtio disk (PCI
    // device 0x1001; the busybox guest has no virtio_blk driver to open it, an installer's kernel does).
    expect(await serial.run('cat /sys/bus/pci/devices/*/device')).toContain('0x1001');
    const blank = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', '-U', path.join(stateDir, `u${id}-iso`, 'disk.qcow2')], { encoding: 'utf8' }),
    ) as { 'virtual-size': number; 'backing-filename'?: string };
    expect(blank['virtual-size']).toBe(100 * 2 ** 20);
    expect(blank['backing-filename']).toBeUndefined();
  }, 240_000);
});
