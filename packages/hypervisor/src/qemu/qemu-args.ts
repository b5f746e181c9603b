import { createHash } from 'node:crypto';
import type { VmSpec } from '../driver.js';
import type { VmPaths } from './vm-state.store.js';

/**
 * Everything the QEMU command line of one VM depends on. The builder is pure: the same input
 * always gives the same argv, so `qemu-args.test.ts` asserts exact argv without starting QEMU.
 */
export interface QemuArgsInput {
  name: string;
  spec: VmSpec;
  accelerator: 'kvm' | 'tcg';
  /** Where the VM's disk, sockets, pidfile and serial log live (from the VM state store). */
  paths: VmPaths;
  /** NIC arguments as the lab network backend returns them from `attachNic`, in NIC order. */
  nicArgs?: string[];
  /** TCG's translation cache in MiB (QEMU's default is 1 GiB of address space, filled as code runs); not used with KVM. */
  tcgTranslationCacheMiB?: number;
  /**
   * Guest RAM in a file instead of anonymous memory: `shared` maps it shared (a VM to be saved:
   * its RAM file becomes the saved RAM image), otherwise privately, copy-on-write (a VM resumed
   * from a saved RAM image: its unchanged pages are the page cache's, shared by every such VM).
   */
  memoryFile?: { path: string; shared: boolean };
  /** Wait for a saved running state instead of booting (`-incoming defer`: the driver sends `migrate-incoming`). */
  incoming?: boolean;
  /** Appended last (e.g. `-loadvm <snapshot>` when a stopped VM reverts to a RAM snapshot). */
  extra?: string[];
}

/**
 * The argv (without the binary) of a daemonized QEMU for one VM, built from named sections in a
 * fixed order. To add a device, add a section function and list it in `SECTIONS`; each section
 * sees the whole input and returns its arguments, or none.
 */
export function qemuArgs(input: QemuArgsInput): string[] {
  return SECTIONS.flatMap((section) => section(input));
}

type Section = (input: QemuArgsInput) => string[];

/** A fingerprint of the devices the builder gives a VM: the argv of a fixed example VM, hashed. */
export function deviceLayout(): string {
  const dir = '/vm';
  const example = qemuArgs({
    name: 'vm',
    spec: { name: 'vm', image: { kind: 'kernel', kernel: '/k', initrd: '/i', cmdline: '' }, cpus: 1, memoryMiB: 128, nics: [] },
    accelerator: 'tcg',
    paths: {
      dir,
      spec: `${dir}/spec.json`,
      disk: `${dir}/disk.qcow2`,
      qmpSocket: `${dir}/qmp.sock`,
      serialSocket: `${dir}/serial.sock`,
      serialLog: `${dir}/serial.log`,
      vncSocket: `${dir}/vnc.sock`,
      pidFile: `${dir}/qemu.pid`,
      guestAgentSocket: `${dir}/qga.sock`,
      seed: `${dir}/seed.iso`,
      memoryFile: `${dir}/memory.ram`,
    },
  });
  return createHash('sha256').update(JSON.stringify(example)).digest('hex').slice(0, 16);
}

/** The emulated machine type; a saved state loads only into the same one. */
export const QEMU_MACHINE = 'pc';

/** The id of guest RAM's memory backend: the same whatever backs it, so states and snapshots load into either. */
const RAM_ID = 'ram0';

/** Machine, accelerator, CPUs and RAM; no default devices, no host config files. */
export const machineArgs: Section = ({ name, spec, accelerator, tcgTranslationCacheMiB }) => [
  '-name',
  name,
  '-machine',
  `${QEMU_MACHINE},memory-backend=${RAM_ID}`,
  '-accel',
  accelerator === 'tcg' && tcgTranslationCacheMiB ? `tcg,tb-size=${tcgTranslationCacheMiB}` : accelerator,
  '-smp',
  String(spec.cpus),
  '-m',
  String(spec.memoryMiB),
  '-nodefaults',
  '-no-user-config',
];

/** Guest RAM: anonymous memory, or a file (see `QemuArgsInput.memoryFile`). */
export const memoryArgs: Section = ({ spec, memoryFile }) => [
  '-object',
  memoryFile
    ? `memory-backend-file,id=${RAM_ID},size=${spec.memoryMiB}M,mem-path=${memoryFile.path},share=${memoryFile.shared ? 'on' : 'off'}`
    : `memory-backend-ram,id=${RAM_ID},size=${spec.memoryMiB}M`,
];

/**
 * Video memory of kernel images' VGA: their screen is a text console, which fits in 1 MiB. QEMU's
 * default (16 MiB) gets transparent huge pages, so each VM holds 2 MiB of it once the screen is
 * written; other images keep the default for graphical installers and desktops.
 */
export const TEXT_CONSOLE_VGA_MIB = 1;

/** A VGA screen served over VNC on a unix socket (the browser's graphical console). */
export const displayArgs: Section = ({ spec, paths }) => [
  '-vga',
  'std',
  ...(spec.image.kind === 'kernel' ? ['-global', `VGA.vgamem_mb=${TEXT_CONSOLE_VGA_MIB}`] : []),
  '-display',
  'none',
  '-vnc',
  `unix:${paths.vncSocket}`,
];

/** QMP, the driver's control channel. */
export const controlArgs: Section = ({ paths }) => ['-qmp', `unix:${paths.qmpSocket},server=on,wait=off`];

/** The serial port on a unix socket; the log keeps what the guest printed while nobody watched (the consoles' scrollback). */
export const serialArgs: Section = ({ paths }) => [
  '-chardev',
  `socket,id=serial0,path=${paths.serialSocket},server=on,wait=off,logfile=${paths.serialLog},logappend=on`,
  '-serial',
  'chardev:serial0',
];

/** The VM's own qcow2 overlay (every image kind gets one: RAM snapshots live in it). */
export const diskArgs: Section = ({ paths }) => ['-drive', `file=${paths.disk},if=virtio,format=qcow2,cache=unsafe`];

/**
 * The private guest channel (unless the spec opts out): a virtio-serial port named
 * `org.qemu.guest_agent.0`, which qemu-ga in the guest opens, served on a unix socket the driver
 * connects to. Placed after the disk so that adding it moved no earlier device's PCI slot.
 */
export const guestAgentArgs: Section = ({ spec, paths }) =>
  spec.guestAgent === false
    ? []
    : [
        '-chardev',
        `socket,id=qga0,path=${paths.guestAgentSocket},server=on,wait=off`,
        '-device',
        'virtio-serial-pci',
        '-device',
        'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
      ];

/** QEMU forks into the background once the VM is set up, and writes its pid. */
export const daemonArgs: Section = ({ paths }) => ['-daemonize', '-pidfile', paths.pidFile];

/** Direct kernel boot for kernel images (and disks built without a bootloader); other disks boot from their disk. */
export const bootArgs: Section = ({ spec }) => {
  const boot = spec.image.kind === 'kernel' ? spec.image : spec.image.kind === 'disk' ? spec.image.boot : undefined;
  if (!boot) return spec.image.kind === 'iso' ? ['-boot', 'order=c,once=d'] : [];
  // Per-lab values go on the command line of the busybox demo guests only; full-OS guests get them from cloud-init.
  const extra = spec.image.kind === 'kernel' ? spec.kernelArgs : undefined;
  return ['-kernel', boot.kernel, '-initrd', boot.initrd, '-append', [boot.cmdline, extra].filter(Boolean).join(' ')];
};

/** Debian's OVMF (package `ovmf`) as the firmware of UEFI images. */
export const OVMF_FIRMWARE = '/usr/share/ovmf/OVMF.fd';

/** UEFI firmware when the image needs it (BIOS is QEMU's default). */
export const firmwareArgs: Section = ({ spec }) =>
  (spec.image.kind === 'disk' || spec.image.kind === 'iso') && spec.image.firmware === 'uefi' ? ['-bios', OVMF_FIRMWARE] : [];

/** CD-ROMs on the built-in IDE controller: installer/live media, then the cloud-init seed. */
export const mediaArgs: Section = ({ spec, paths }) => [
  ...(spec.image.kind === 'iso' ? ['-drive', `file=${spec.image.path},media=cdrom,readonly=on,if=ide,index=0`] : []),
  ...(spec.cloudInit ? ['-drive', `file=${paths.seed},media=cdrom,readonly=on,if=ide,index=1`] : []),
];

export const nicSection: Section = ({ nicArgs }) => nicArgs ?? [];

/**
 * QEMU waits for a saved state instead of booting; the driver then sets the migration
 * capabilities the state was saved with and names its file (`migrate-incoming`).
 */
export const incomingArgs: Section = ({ incoming }) => (incoming ? ['-incoming', 'defer'] : []);

export const extraSection: Section = ({ extra }) => extra ?? [];

const SECTIONS: Section[] = [
  machineArgs,
  memoryArgs,
  firmwareArgs,
  displayArgs,
  controlArgs,
  serialArgs,
  diskArgs,
  mediaArgs,
  guestAgentArgs,
  daemonArgs,
  bootArgs,
  nicSection,
  incomingArgs,
  extraSection,
];
