import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../driver.js';
import { qemuArgs } from './qemu-args.js';
import { VmStateStore } from './vm-state.store.js';

// Exact argv of full-OS guests: a disk overlay with direct kernel boot and a cloud-init seed,
// installer media (ISO) and UEFI firmware. The kernel-image argv is in qemu-args.test.ts.
const store = new VmStateStore('/var/lib/ctp/vms');
const D = '/var/lib/ctp/vms/lab1-deb';
const base = { name: 'lab1-deb', cpus: 1, memoryMiB: 512, nics: [] } satisfies Partial<VmSpec>;
const argv = (spec: VmSpec) => qemuArgs({ name: 'lab1-deb', spec, accelerator: 'tcg', paths: store.paths('lab1-deb') });

// Guest RAM is a named memory backend (saved states map it from a file; here plain RAM).
const head = [
  '-name',
  'lab1-deb',
  '-machine',
  'pc,memory-backend=ram0',
  '-accel',
  'tcg',
  '-smp',
  '1',
  '-m',
  '512',
  '-nodefaults',
  '-no-user-config',
  '-object',
  'memory-backend-ram,id=ram0,size=512M',
];
const middle = [
  '-vga',
  'std',
  '-display',
  'none',
  '-vnc',
  `unix:${D}/vnc.sock`,
  '-qmp',
  `unix:${D}/qmp.sock,server=on,wait=off`,
  '-chardev',
  `socket,id=serial0,path=${D}/serial.sock,server=on,wait=off,logfile=${D}/serial.log,logappend=on`,
  '-serial',
  'chardev:serial0',
  '-drive',
  `file=${D}/disk.qcow2,if=virtio,format=qcow2,cache=unsafe`,
];
const seed = ['-drive', `file=${D}/seed.iso,media=cdrom,readonly=on,if=ide,index=1`];
// The private guest channel (full-OS images run qemu-guest-agent), then the daemon arguments.
const daemon = [
  '-chardev',
  `socket,id=qga0,path=${D}/qga.sock,server=on,wait=off`,
  '-device',
  'virtio-serial-pci',
  '-device',
  'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
  '-daemonize',
  '-pidfile',
  `${D}/qemu.pid`,
];
const cloudInit = { metaData: 'instance-id: x\n', userData: '#cloud-config\n' };

describe('qemu argv for full-OS images', () => {
  it('boots a disk image through its kernel with the root on the overlay, the seed as a CD-ROM, no per-lab values on the command line', () => {
    const spec: VmSpec = {
      ...base,
      image: {
        kind: 'disk',
        path: '/images/debian/disk.qcow2',
        format: 'qcow2',
        boot: { kernel: '/images/debian/vmlinuz', initrd: '/images/debian/initrd', cmdline: 'root=/dev/vda rw console=ttyS0' },
      },
      kernelArgs: 'ctp.flag=secret',
      cloudInit,
    };
    expect(argv(spec)).toEqual([
      ...head,
      ...middle,
      ...seed,
      ...daemon,
      '-kernel',
      '/images/debian/vmlinuz',
      '-initrd',
      '/images/debian/initrd',
      '-append',
      'root=/dev/vda rw console=ttyS0',
    ]);
  });

  it('boots a disk with its own bootloader, under UEFI firmware when the image says so', () => {
    const spec: VmSpec = { ...base, image: { kind: 'disk', path: '/images/win.qcow2', format: 'qcow2', firmware: 'uefi' } };
    expect(argv(spec)).toEqual([...head, '-bios', '/usr/share/ovmf/OVMF.fd', ...middle, ...daemon]);
  });

  it('boots installer media once from the CD-ROM, then from the disk', () => {
    const spec: VmSpec = { ...base, image: { kind: 'iso', path: '/images/kali.iso' }, cloudInit };
    expect(argv(spec)).toEqual([
      ...head,
      ...middle,
      '-drive',
      'file=/images/kali.iso,media=cdrom,readonly=on,if=ide,index=0',
      ...seed,
      ...daemon,
      '-boot',
      'order=c,once=d',
    ]);
  });
});
