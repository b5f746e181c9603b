import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaseImage } from '../driver.js';

const root = path.resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
export const DEMO_IMAGES_DIR = path.join(root, 'images', 'build');

/** The demo guests' base images, building them first (once) if they are missing. */
export function demoImages(): { attacker: BaseImage & { kind: 'kernel' }; target: BaseImage & { kind: 'kernel' } } {
  const manifest = path.join(DEMO_IMAGES_DIR, 'manifest.json');
  if (!existsSync(manifest)) execFileSync('bash', [path.join(root, 'scripts', 'build-demo-images.sh')], { stdio: 'inherit' });
  const { cmdline } = JSON.parse(readFileSync(manifest, 'utf8')) as { cmdline: string };
  const image = (role: string) => ({
    kind: 'kernel' as const,
    kernel: path.join(DEMO_IMAGES_DIR, 'vmlinux'),
    initrd: path.join(DEMO_IMAGES_DIR, `${role}.initrd`),
    cmdline,
  });
  return { attacker: image('attacker'), target: image('target') };
}
