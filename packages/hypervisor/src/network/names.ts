import { createHash } from 'node:crypto';

/** A short stable hash, so derived device names fit Linux's 15-character limit. */
export function shortHash(text: string, length = 8): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** The bridge of a lab network: `ctpb` + 8 hex characters. */
export function bridgeName(network: string): string {
  return `ctpb${shortHash(network)}`;
}

/** The tap of one NIC of a VM: `ctpt` + 8 hex characters. */
export function tapName(vmName: string, nicIndex: number): string {
  return `ctpt${shortHash(`${vmName}#${nicIndex}`)}`;
}

/** A locally administered MAC derived from the VM name and NIC index, stable across restarts. */
export function macFor(vmName: string, nicIndex: number): string {
  const hex = shortHash(`${vmName}#${nicIndex}`, 8);
  return `52:54:${hex.match(/../g)!.join(':')}`;
}
