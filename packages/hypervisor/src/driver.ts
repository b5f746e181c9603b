import type { Duplex } from 'node:stream';

/**
 * The hypervisor driver contract. Everything above `packages/hypervisor` speaks to VMs only
 * through this interface; only drivers speak to hypervisors.
 *
 * Rules every driver follows (and `contract.suite.ts` tests):
 * - Names are the identity. Callers choose VM, snapshot and network names (see `isValidName`);
 *   drivers derive whatever internal ids they need from them and never return those ids.
 * - Every operation is idempotent by name: creating what exists with the same spec, starting a
 *   running VM, stopping a stopped one, destroying what is already gone all succeed.
 * - A failed `createVm` or `createNetwork` leaves nothing behind (no disk, process, socket,
 *   device or rule).
 * - `destroyVm` removes every trace of the VM (processes, overlays, sockets, snapshots).
 *   `destroyNetwork` removes every device and rule of the network.
 * - An operation the hypervisor cannot do throws `HypervisorError` with code `unsupported`;
 *   what a driver can do is also reported up front as `Capabilities` data.
 * - A VM that does not exist yields `null` from `getVm` and `HypervisorError('not_found')`
 *   from operations that need it.
 */
export interface HypervisorDriver {
  /** Short driver name, e.g. `qemu`, `virtualbox`, `fake`. */
  readonly kind: string;

  /** Probe the host once (cached) and report version, accelerator and capabilities. */
  probe(): Promise<HostInfo>;

  /** Every VM this driver manages (created by it, whatever its state). */
  listVms(): Promise<VmInfo[]>;
  /** One VM's current state, or null when it does not exist. */
  getVm(name: string): Promise<VmInfo | null>;
  /** Create a VM as a linked clone of its base image. The VM is left stopped. */
  createVm(spec: VmSpec): Promise<VmInfo>;
  /** Boot (or resume from a cold state) a VM; a running VM is left as it is. */
  startVm(name: string): Promise<void>;
  /** Ask the guest to power off, wait up to `timeoutMs` (default 10 s), then force it off. */
  stopVm(name: string, options?: { timeoutMs?: number; force?: boolean }): Promise<void>;
  /** Hard-reset a running VM. */
  rebootVm(name: string): Promise<void>;
  /** Freeze a running VM's CPUs. */
  pauseVm(name: string): Promise<void>;
  /** Unfreeze a paused VM. */
  resumeVm(name: string): Promise<void>;
  /** Remove the VM and all it owns. Succeeds when it is already gone. */
  destroyVm(name: string): Promise<void>;

  /** Take a snapshot: with RAM when the VM runs (if `liveSnapshots`), of the disk otherwise. */
  takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo>;
  /** The VM's snapshots, oldest first. */
  listSnapshots(vmName: string): Promise<SnapshotInfo[]>;
  /** Return the VM to the exact state of the snapshot (running again if taken with RAM). */
  revertSnapshot(vmName: string, snapshotName: string): Promise<void>;
  /** Delete a snapshot. Succeeds when it is already gone. */
  deleteSnapshot(vmName: string, snapshotName: string): Promise<void>;

  /** Create an isolated L2 segment. VMs whose NICs name it share it; nothing else reaches it. */
  createNetwork(spec: NetworkSpec): Promise<NetworkInfo>;
  /** Remove a network and every device and rule it owns. Succeeds when it is already gone. */
  destroyNetwork(name: string): Promise<void>;
  /** Every network this driver manages. */
  listNetworks(): Promise<NetworkInfo[]>;

  /**
   * Save a running VM's running state (RAM, CPUs, devices) together with its disk at that moment,
   * under `stateName` (a valid name), so that new VMs can start from it instead of booting
   * (capability `savedStates`). The disk is kept as a read-only layer the state belongs to; the
   * VM is left stopped and may be destroyed. Saving over an existing name replaces it.
   * Drivers without the capability throw `unsupported`.
   */
  saveState(vmName: string, stateName: string): Promise<SavedStateInfo>;
  /** The saved states this driver holds. */
  listSavedStates(): Promise<SavedStateInfo[]>;
  /** Delete a saved state. Succeeds when it is already gone. VMs created from it must be gone first. */
  deleteSavedState(stateName: string): Promise<void>;

  /**
   * Open a byte stream to a VM's console: `serial` carries the serial port, `vnc` carries RFB.
   * Several streams may be open at once; closing one does not affect the VM.
   */
  openConsole(vmName: string, kind: ConsoleKind): Promise<Duplex>;

  /**
   * Optional: write the VM's whole disk (its overlay and base flattened) to `target` as a
   * standalone qcow2, the VM stopped first so the copy is consistent. Drivers without it
   * cannot save VMs as images.
   */
  exportDisk?(vmName: string, target: string, onProgress?: (percent: number) => void): Promise<void>;

  /**
   * Wait until the VM's guest agent answers on the private channel (after boot, revert or
   * restore). Throws HypervisorError('timeout') after `timeoutMs` (default 60 s).
   */
  waitForGuestAgent(vmName: string, timeoutMs?: number): Promise<void>;
  /**
   * Run a command inside the guest over the private channel (never the console). `argv[0]` is the
   * program; `input` goes to stdin. A command still running after `timeoutMs` (default 30 s) is
   * reported with `timedOut: true` and exit code 124.
   */
  guestExec(vmName: string, command: GuestCommand): Promise<GuestExecResult>;
  /** Write a file inside the guest over the private channel; parent directories are created. */
  guestWriteFile(vmName: string, file: GuestFile): Promise<void>;
}

/** A command to run inside a guest over the private channel. */
export interface GuestCommand {
  argv: string[];
  input?: string;
  timeoutMs?: number;
}

/** What a command run inside a guest returned. */
export interface GuestExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

/** A file to write inside a guest: `mode` is numeric (e.g. 0o600), `owner` is `user` or `user:group`. */
export interface GuestFile {
  path: string;
  content: string | Buffer;
  mode?: number;
  owner?: string;
  /**
   * The file was prepared: the saved state the guest resumed holds it empty, with this mode and
   * owner. A driver may then fill it in place without starting a guest program (the first program
   * a freshly resumed TCG guest starts costs it ~200 ms of host CPU). Where the file is missing or
   * not empty, the ordinary write happens. Only the caller knows a file was prepared.
   */
  prepared?: boolean;
}

/** Account the hypervisor's guest tools log in as (VirtualBox guestcontrol); QEMU's agent needs none. */
export interface GuestCredentials {
  username: string;
  password: string;
}

export type VmState = 'stopped' | 'starting' | 'running' | 'paused' | 'error';
export type ConsoleKind = 'serial' | 'vnc';

/** What a driver can do, as data, so services can decide without trying. */
export interface Capabilities {
  snapshots: boolean;
  /** Snapshots of a running VM including its RAM. */
  liveSnapshots: boolean;
  linkedClones: boolean;
  pause: boolean;
  consoles: ConsoleKind[];
  /** `saveState` and `VmSpec.savedState`: VMs start from a saved running state instead of booting. */
  savedStates: boolean;
  /** How lab networks are isolated: `bridge` (bridge + taps + nftables), `socket` (QEMU multicast on loopback), `intnet` (VirtualBox internal network), `memory` (fake). */
  networkIsolation: 'bridge' | 'socket' | 'intnet' | 'memory';
  /** The private guest channel (`waitForGuestAgent`, `guestExec`, `guestWriteFile`): QEMU guest agent, VirtualBox guestcontrol, fake. */
  guestAgent: boolean;
}

export interface HostInfo {
  driver: string;
  /** Hypervisor version as it reports it, e.g. `7.2.19` for QEMU. */
  version: string;
  /** `kvm` or `tcg` for QEMU; `hardware` for VirtualBox; `none` for the fake. */
  accelerator: 'kvm' | 'tcg' | 'hardware' | 'none';
  capabilities: Capabilities;
  /** Free-form notes on why a choice was made (e.g. why KVM was not used). */
  notes: string[];
  /** The emulated machine type (QEMU: `pc`), part of what a saved state depends on. */
  machine?: string;
  /**
   * A fingerprint of the devices the driver gives a VM (QEMU: of the argv it builds): a saved
   * state loads only into the same devices, so when this changes (a new device, a new driver
   * version) saved states must be made again.
   */
  deviceLayout?: string;
}

/**
 * A base image, never modified: a disk (qcow2, raw, vmdk, vdi), a direct-kernel-boot pair (QEMU),
 * or an appliance (OVA/OVF, VirtualBox).
 */
export type BaseImage =
  | {
      kind: 'disk';
      path: string;
      format: 'qcow2' | 'raw' | 'vmdk' | 'vdi';
      firmware?: Firmware;
      /** Direct kernel boot with the root filesystem on this disk (images built without a bootloader). */
      boot?: { kernel: string; initrd: string; cmdline: string };
    }
  | { kind: 'kernel'; kernel: string; initrd: string; cmdline: string }
  | { kind: 'appliance'; path: string }
  /** Installer or live media, attached as a CD-ROM and booted from, with a blank disk to install on. */
  | { kind: 'iso'; path: string; firmware?: Firmware };

export type Firmware = 'bios' | 'uefi';

/**
 * Per-VM configuration delivered the standard way: a cloud-init NoCloud seed (volume label
 * `cidata`) with these files, attached as a small CD-ROM.
 */
export interface CloudInitSeed {
  metaData: string;
  userData: string;
  networkConfig?: string;
}

export interface NicSpec {
  /** Name of a network created with `createNetwork`. */
  network: string;
  /** Optional fixed MAC (lowercase, colon separated); otherwise derived from VM name and index. */
  mac?: string;
}

export interface VmSpec {
  name: string;
  image: BaseImage;
  cpus: number;
  memoryMiB: number;
  nics: NicSpec[];
  /** Extra kernel command line for kernel images (hostname, address, per-lab values). */
  kernelArgs?: string;
  /** Disk size of the overlay for kernel images that have no disk (snapshots need one). */
  scratchDiskMiB?: number;
  /** A cloud-init NoCloud seed for full-OS guests (hostname, addresses, login). */
  cloudInit?: CloudInitSeed;
  /**
   * Give the VM the private guest channel (default true): QEMU adds a virtio-serial port
   * `org.qemu.guest_agent.0` on a unix socket in the VM's state directory.
   */
  guestAgent?: boolean;
  /**
   * This VM will be saved with `saveState` (a template's reference VM). QEMU keeps its RAM in a
   * file, which the save turns into a plain RAM image: VMs restored from it map it copy-on-write
   * and share its unchanged pages. Other drivers may ignore it.
   */
  saveable?: boolean;
  /** Guest account for VirtualBox `guestcontrol` (Guest Additions log in); unused by QEMU. */
  guestCredentials?: GuestCredentials;
  /**
   * Start from this saved state (see `saveState`) instead of booting. The VM's disk is a new
   * overlay on the state's disk layer. It keeps the saved VM's image, CPUs, RAM and MACs (the
   * guest resumes exactly as it was; only the NICs' networks come from this spec, and their
   * number must match: else `invalid`); this spec's kernel arguments serve its later boots only
   * (the resumed guest keeps the saved VM's: per-VM values go in over the guest channel). Its first start resumes the state; so does a
   * start after reverting to a snapshot taken before that first start (a reset). Any other start
   * boots from its disk. A missing state gives `not_found` at create; a state that cannot be
   * loaded makes `startVm` fail with `command_failed` and leaves the VM stopped.
   */
  savedState?: string;
}

export interface SavedStateInfo {
  name: string;
  createdAt: Date;
  /** Bytes on disk (RAM image and disk layer). */
  sizeBytes: number;
  /** The hypervisor version and machine type it was saved with; a state loads only into the same. */
  hypervisorVersion: string;
  machine: string;
}

export interface VmInfo {
  name: string;
  state: VmState;
  cpus: number;
  memoryMiB: number;
  nics: { network: string; mac: string }[];
  consoles: ConsoleKind[];
}

export interface SnapshotInfo {
  name: string;
  createdAt: Date;
  /** True when the snapshot holds RAM and CPU state as well as disk. */
  withMemory: boolean;
}

export interface NetworkSpec {
  name: string;
  /** Networks with the same group are still separate segments; used for naming and cleanup (e.g. the lab id). */
  group?: string;
  /** A DHCP server on this network only, handing out static leases by MAC (nothing to unknown MACs). */
  dhcp?: DhcpSpec;
}

export interface DhcpSpec {
  /** The network, e.g. `10.0.1.0/24`. */
  cidr: string;
  /** The server's own address on the segment (not used by any guest). */
  serverAddress: string;
  /** Router and DNS options handed out; none when absent. */
  gateway?: string;
  dns?: string[];
  leases: { mac: string; address: string; hostname: string }[];
}

export interface NetworkInfo {
  name: string;
  group?: string;
}

/** Names accepted for VMs, snapshots and networks: safe in paths, argv and device names. */
export function isValidName(name: string): boolean {
  return /^[a-z0-9][a-z0-9_.-]{0,62}$/i.test(name) && !name.includes('..');
}
