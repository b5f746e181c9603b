import { createHash } from 'node:crypto';

/** A short stable hash, so derived names (devices, VirtualBox VMs) fit their length limits. */
export function shortHash(text: string, length = 8): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}
