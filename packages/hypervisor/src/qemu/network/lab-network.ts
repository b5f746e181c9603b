import type { NetworkInfo, NetworkSpec } from '../../driver.js';

/**
 * How the QEMU driver builds isolated lab networks. Two implementations:
 * `bridge.network.ts` (root or CAP_NET_ADMIN: a Linux bridge per network, a tap per NIC,
 * nftables rules that drop traffic between lab bridges and from guests to the host) and
 * `socket.network.ts` (rootless: QEMU multicast sockets on loopback, a group/port per network).
 */
export interface LabNetworkBackend {
  readonly isolation: 'bridge' | 'socket';
  create(spec: NetworkSpec): Promise<NetworkInfo>;
  /** Removes the network and every device and rule it owns; succeeds when already gone. */
  destroy(name: string): Promise<void>;
  list(): Promise<NetworkInfo[]>;
  /**
   * Prepares one NIC of a VM on a network (creating its tap when the backend needs one) and
   * returns the QEMU arguments that attach it (`-netdev ... -device virtio-net-pci,...`).
   */
  attachNic(network: string, vmName: string, nicIndex: number, mac: string): Promise<string[]>;
  /** Removes what `attachNic` created; succeeds when already gone. */
  detachNic(network: string, vmName: string, nicIndex: number): Promise<void>;
}
