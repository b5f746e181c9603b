import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaseImage, Firmware } from '@ctp/hypervisor';

/** How a guest gets its hostname, addresses and login. */
export type ConfigMethod = 'cloud-init' | 'dhcp' | 'none';

/** What the lab runner needs of an image: what to boot, and how the guest is configured. */
export interface ResolvedImage {
  base: BaseImage;
  configMethod: ConfigMethod;
  defaultUser: string | null;
  firmware: Firmware;
}

/** Base images a template may name (the DB-backed library implements it with the built-ins). */
export interface ImageCatalog {
  resolve(name: string): Promise<ResolvedImage | undefined>;
  names(): Promise<string[]>;
}

/** An image shipped with the platform (the demo guests): registered at start, read-only. */
export interface BuiltinImage extends ResolvedImage {
  /** Fixed, so that the API can name it the same way on every start and instance. */
  id: string;
  name: string;
  osFamily: string;
  defaultCpus: number;
  defaultMemoryMiB: number;
  notes: string;
  files: string[];
}

/** The demo images found in the images folder, and nothing else. */
export interface BuiltinImages {
  list(): BuiltinImage[];
  get(name: string): BuiltinImage | undefined;
}

/** The repository's `images/build`, where `scripts/build-demo-images.sh` writes the demo guests. */
export const DEFAULT_IMAGES_DIR = path.resolve(fileURLToPath(new URL('../../../../images/build', import.meta.url)));

// Kernel messages on the screen too (tty0); the last console, the serial port, gets the shell.
const DEMO_CMDLINE = 'console=tty0 console=ttyS0 quiet panic=-1';

/**
 * The demo guests as built-in images: `demo-attacker` and `demo-target` (a Debian cloud kernel
 * and a busybox initramfs per role, configured on the kernel command line), and `debian-12`
 * (a full Debian disk built by `scripts/build-debian-image.sh`, configured by cloud-init), each
 * listed only once its files exist.
 */
export function createImageCatalog(imagesDir: string = DEFAULT_IMAGES_DIR): BuiltinImages {
  const all = (): BuiltinImage[] => {
    // The kernel uncompressed (PVH ELF): QEMU maps it instead of keeping a copy in its heap.
    const kernel = path.join(imagesDir, 'vmlinux');
    const images: BuiltinImage[] = (['attacker', 'target'] as const).map((role, i) => {
      const initrd = path.join(imagesDir, `${role}.initrd`);
      return {
        id: `00000000-0000-4000-8000-00000000000${i + 1}`,
        name: `demo-${role}`,
        base: { kind: 'kernel', kernel, initrd, cmdline: DEMO_CMDLINE },
        configMethod: 'none',
        defaultUser: null,
        firmware: 'bios',
        osFamily: 'busybox',
        defaultCpus: 1,
        defaultMemoryMiB: 128,
        notes: `Demo ${role}: Debian cloud kernel and a busybox initramfs, configured on the kernel command line.`,
        files: [kernel, initrd],
      };
    });
    const debian = path.join(imagesDir, 'debian');
    const disk = path.join(debian, 'disk.qcow2');
    let cmdline = 'root=/dev/vda rw console=tty0 console=ttyS0 quiet';
    try {
      cmdline = (JSON.parse(readFileSync(path.join(debian, 'manifest.json'), 'utf8')) as { cmdline?: string }).cmdline ?? cmdline;
    } catch {
      // Not built yet: the image is listed as unavailable below.
    }
    images.push({
      id: '00000000-0000-4000-8000-000000000003',
      name: 'debian-12',
      base: {
        kind: 'disk',
        path: disk,
        format: 'qcow2',
        boot: { kernel: path.join(debian, 'vmlinuz'), initrd: path.join(debian, 'initrd'), cmdline },
      },
      configMethod: 'cloud-init',
      defaultUser: 'debian',
      firmware: 'bios',
      osFamily: 'debian',
      defaultCpus: 1,
      defaultMemoryMiB: 512,
      notes: 'Debian 12 (systemd, cloud-init, qemu-guest-agent, openssh-server, nmap, curl, netcat-openbsd), built from Debian packages.',
      files: [disk, path.join(debian, 'vmlinuz'), path.join(debian, 'initrd')],
    });
    // An image exists only once the build script has made its files.
    return images.filter((image) => image.files.every((file) => existsSync(file)));
  };
  return { list: all, get: (name) => all().find((image) => image.name === name) };
}
