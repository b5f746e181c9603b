import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaseImage } from '@ctp/hypervisor';

/** Base images a template may name, resolved to what the hypervisor driver boots. */
export interface ImageCatalog {
  resolve(name: string): BaseImage | undefined;
  names(): string[];
}

/** The repository's `images/build`, where `scripts/build-demo-images.sh` writes the demo guests. */
export const DEFAULT_IMAGES_DIR = path.resolve(fileURLToPath(new URL('../../../../images/build', import.meta.url)));

// Kernel messages on the screen too (tty0); the last console, the serial port, gets the shell.
const DEMO_CMDLINE = 'console=tty0 console=ttyS0 quiet panic=-1';

/**
 * The demo guests (a Debian cloud kernel and a busybox initramfs per role) as base images
 * `demo-attacker` and `demo-target`, plus any images registered in addition.
 */
export function createImageCatalog(imagesDir: string = DEFAULT_IMAGES_DIR, extra: Record<string, BaseImage> = {}): ImageCatalog {
  // A Map, not an object: a template's image name such as `constructor` must not find Object's members.
  const images = new Map<string, BaseImage>(Object.entries(extra));
  const kernel = path.join(imagesDir, 'vmlinuz');
  for (const role of ['attacker', 'target']) {
    const initrd = path.join(imagesDir, `${role}.initrd`);
    images.set(`demo-${role}`, { kind: 'kernel', kernel, initrd, cmdline: DEMO_CMDLINE });
  }
  return {
    resolve: (name) => {
      const image = images.get(name);
      if (!image) return undefined;
      // A demo image exists only once the build script has run.
      if (image.kind === 'kernel' && !(existsSync(image.kernel) && existsSync(image.initrd))) return undefined;
      if (image.kind === 'disk' && !existsSync(image.path)) return undefined;
      return image;
    },
    names: () => [...images.keys()].sort(),
  };
}
