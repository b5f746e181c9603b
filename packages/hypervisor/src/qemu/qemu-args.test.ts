import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../driver.js';
import { deviceLayout, qemuArgs, type QemuArgsInput } from './qemu-args.js';
import { VmStateStore } from './vm-state.store.js';

const store = new VmStateStore('/var/lib/ctp/vms');
const D = '/var/lib/ctp/vms/lab1-box';
const kernelSpec: VmSpec = {
  name: 'lab1-box',
  image: { kind: 'kernel', kernel: '/images/vmlinuz', initrd: '/images/attacker.initrd', cmdline: 'console=ttyS0 quiet' },
  cpus: 1,
  memoryMiB: 128,
  nics: [{ network: 'lab1-lan' }],
  kernelArgs: 'ctp.hostname=box ctp.ip=10.0.0.10/24',
};
const input = (over: Partial<QemuArgsInput> = {}): QemuArgsInput => ({
  name: 'lab1-box',
  spec: kernelSpec,
  accelerator: 'tcg',
  paths: store.paths('lab1-box'),
  ...over,
});

/** The private guest channel: a virtio-serial port for qemu-ga, served on a socket in the VM's directory. */
const guestAgent = [
  '-chardev',
  `socket,id=qga0,path=${D}/qga.sock,server=on,wait=off`,
  '-device',
  'virtio-serial-pci',
  '-device',
  'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
];

/**
 * The arguments every VM gets (with the guest channel), up to and including the pidfile. Kernel
 * images (text consoles) get 1 MiB of video memory; other images QEMU's default.
 */
const common = (accel: string, cpus: string, mem: string, agent = true, kernelImage = true) => [
  '-name',
  'lab1-box',
  '-machine',
  'pc,memory-backend=ram0',
  '-accel',
  accel,
  '-smp',
  cpus,
  '-m',
  mem,
  '-nodefaults',
  '-no-user-config',
  '-object',
  `memory-backend-ram,id=ram0,size=${mem}M`,
  '-vga',
  'std',
  ...(kernelImage ? ['-global', 'VGA.vgamem_mb=1'] : []),
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
  ...(agent ? guestAgent : []),
  '-daemonize',
  '-pidfile',
  `${D}/qemu.pid`,
];

describe('QEMU argv builder: exact argv', () => {
  it('boots a kernel image with its command line and per-VM arguments, NICs and extras last', () => {
    const nicArgs = [
      '-netdev',
      'tap,id=nic0,ifname=ctpt01234567,script=no,downscript=no',
      '-device',
      'virtio-net-pci,netdev=nic0,mac=52:54:00:00:00:01',
    ];
    expect(qemuArgs(input({ nicArgs, extra: ['-loadvm', 'clean'] }))).toEqual([
      ...common('tcg', '1', '128'),
      '-kernel',
      '/images/vmlinuz',
      '-initrd',
      '/images/attacker.initrd',
      '-append',
      'console=ttyS0 quiet ctp.hostname=box ctp.ip=10.0.0.10/24',
      ...nicArgs,
      '-loadvm',
      'clean',
    ]);
  });

  it('boots a disk image from its overlay, with KVM, without kernel arguments', () => {
    const spec: VmSpec = {
      ...kernelSpec,
      image: { kind: 'disk', path: '/images/debian.qcow2', format: 'qcow2' },
      cpus: 2,
      memoryMiB: 1024,
      nics: [],
    };
    expect(qemuArgs(input({ spec, accelerator: 'kvm' }))).toEqual(common('kvm', '2', '1024', true, false));
  });

  it('leaves out an empty kernel argument list instead of adding a trailing space', () => {
    const { kernelArgs: _, ...spec } = kernelSpec;
    const argv = qemuArgs(input({ spec }));
    expect(argv[argv.indexOf('-append') + 1]).toBe('console=ttyS0 quiet');
  });

  it('leaves out the guest channel only when the spec opts out of it', () => {
    const argv = qemuArgs(input({ spec: { ...kernelSpec, guestAgent: false } }));
    expect(argv.slice(0, argv.indexOf('-kernel'))).toEqual(common('tcg', '1', '128', false));
    expect(argv.join(' ')).not.toContain('qga');
    expect(argv.join(' ')).not.toContain('virtio-serial');
    expect(qemuArgs(input({ spec: { ...kernelSpec, guestAgent: true } }))).toEqual(qemuArgs(input()));
  });

  it('resumes a saved state with -incoming after the NICs, its RAM image mapped copy-on-write, and bounds the TCG translation cache', () => {
    const argv = qemuArgs(
      input({
        incoming: true,
        memoryFile: { path: '/var/lib/ctp/saved/ts1/memory.ram', shared: false },
        tcgTranslationCacheMiB: 32,
        nicArgs: ['-netdev', 'x'],
      }),
    );
    expect(argv.slice(0, 6)).toEqual(['-name', 'lab1-box', '-machine', 'pc,memory-backend=ram0', '-accel', 'tcg,tb-size=32']);
    expect(argv.slice(11, 15)).toEqual([
      '-no-user-config',
      '-object',
      'memory-backend-file,id=ram0,size=128M,mem-path=/var/lib/ctp/saved/ts1/memory.ram,share=off',
      '-vga',
    ]);
    expect(argv.slice(-4)).toEqual(['-netdev', 'x', '-incoming', 'defer']);
    // KVM has no translation cache.
    expect(qemuArgs(input({ accelerator: 'kvm', tcgTranslationCacheMiB: 32 })).slice(4, 6)).toEqual(['-accel', 'kvm']);
  });

  it('keeps the RAM of a VM to be saved in a file of its own, mapped shared', () => {
    const argv = qemuArgs(input({ memoryFile: { path: `${D}/memory.ram`, shared: true } }));
    expect(argv[argv.indexOf('-object') + 1]).toBe(`memory-backend-file,id=ram0,size=128M,mem-path=${D}/memory.ram,share=on`);
    expect(argv).not.toContain('-incoming');
  });

  it('is pure: the same input gives the same argv', () => {
    expect(qemuArgs(input())).toEqual(qemuArgs(input()));
    // Saved states depend on the devices: their fingerprint is stable while the builder is.
    expect(deviceLayout()).toMatch(/^[0-9a-f]{16}$/);
    expect(deviceLayout()).toBe(deviceLayout());
  });
});
