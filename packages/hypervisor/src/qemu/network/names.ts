import { shortHash } from '../../short-hash.js';

export { shortHash };

/** The bridge of a lab network of one installation (`owner`): `ctpb` + 8 hex characters. */
export function bridgeName(owner: string, network: string): string {
  return `ctpb${shortHash(`${owner}/${network}`)}`;
}

/** The tap of one NIC of a VM of one installation: `ctpt` + 8 hex characters. */
export function tapName(owner: string, vmName: string, nicIndex: number): string {
  return `ctpt${shortHash(`${owner}/${vmName}#${nicIndex}`)}`;
}

/** A locally administered MAC derived from the VM name and NIC index, stable across restarts. */
export function macFor(vmName: string, nicIndex: number): string {
  const hex = shortHash(`${vmName}#${nicIndex}`, 8);
  return `52:54:${hex.match(/../g)!.join(':')}`;
}
