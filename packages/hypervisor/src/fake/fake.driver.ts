import type { Duplex } from 'node:stream';
import {
  isValidName,
  type ConsoleKind,
  type GuestCommand,
  type GuestExecResult,
  type GuestFile,
  type HostInfo,
  type HypervisorDriver,
  type NetworkInfo,
  type NetworkSpec,
  type SavedStateInfo,
  type SnapshotInfo,
  type VmInfo,
  type VmSpec,
} from '../driver.js';
import { HypervisorError } from '../errors.js';
import { FakeConsole } from './fake-console.js';

interface MemoryVm {
  info: VmInfo;
  snapshots: (SnapshotInfo & { state: VmInfo['state']; files: Map<string, FakeGuestFile>; restorable: boolean })[];
  /** The guest's files written over the private channel, by path. */
  files: Map<string, FakeGuestFile>;
  execHandler?: FakeGuestExecHandler;
  consoles: Map<string, FakeConsole>;
  /** The saved state it was created from, and whether its next start resumes it. */
  savedState?: string;
  restorePending: boolean;
  /** How it last started: resumed from a saved state or booted. */
  lastStart?: 'saved-state' | 'boot';
}

/** A file the fake guest holds, as written by `guestWriteFile`. */
export interface FakeGuestFile {
  content: Buffer;
  mode?: number;
  owner?: string;
  /** Written with `prepared: true` (see GuestFile). */
  prepared?: boolean;
}

/** Answers `guestExec` for one fake VM; `files` is the VM's current file map (the handler may change it). */
export type FakeGuestExecHandler = (command: GuestCommand, files: Map<string, FakeGuestFile>) => GuestExecResult | Promise<GuestExecResult>;

/**
 * The fake guest's default answers: `cat PATH` prints a written file, `test -f PATH` tells whether
 * it exists, `sh -c SCRIPT` runs a plain `cat`/`test -f` script the same way and otherwise exits 0
 * when a path the script names exists (1 when none does); anything else is "not found" (127).
 */
export function defaultGuestExec(command: GuestCommand, files: Map<string, FakeGuestFile>): GuestExecResult {
  const [given, ...args] = command.argv;
  // `/bin/sh` is `sh`, as the platform's checks and solutions call it.
  const program = given === '/bin/sh' ? 'sh' : given;
  const ok = (stdout = ''): GuestExecResult => ({ exitCode: 0, stdout, stderr: '' });
  if (program === 'cat' && args.length > 0) {
    const missing = args.find((a) => !files.has(a));
    if (missing) return { exitCode: 1, stdout: '', stderr: `cat: can't open '${missing}': No such file or directory\n` };
    return ok(args.map((a) => files.get(a)!.content.toString('utf8')).join(''));
  }
  if (program === 'test' && args[0] === '-f' && args.length === 2) return { exitCode: files.has(args[1]!) ? 0 : 1, stdout: '', stderr: '' };
  if (program === 'sh' && args[0] === '-c' && args[1] !== undefined) {
    const words = args[1].trim().split(/\s+/);
    if (!/[|;&<>$`()]/.test(args[1]) && (words[0] === 'cat' || words[0] === 'test'))
      return defaultGuestExec({ ...command, argv: words }, files);
    return { exitCode: words.some((w) => files.has(w)) ? 0 : 1, stdout: '', stderr: '' };
  }
  return { exitCode: 127, stdout: '', stderr: `${program ?? ''}: not found\n` };
}

/**
 * An in-memory driver for unit tests of the services above the VM layer — never for users. It
 * keeps the contract (idempotent by name, typed errors, no internal ids) and passes the same
 * contract suite as the real drivers. `failOn` makes the named operation fail, to test error paths.
 * Each console is one stream per VM shared by all viewers (as QEMU's is), echoing what is typed;
 * `console(vm, kind)` tells what reached the guest.
 */
export class FakeDriver implements HypervisorDriver {
  readonly kind = 'fake';
  readonly vms = new Map<string, MemoryVm>();
  readonly networks = new Map<string, NetworkInfo>();
  readonly savedStates = new Map<string, SavedStateInfo & { corrupt?: boolean; macs: string[] }>();
  failOn: { operation: string; name?: string; message: string } | undefined;

  async probe(): Promise<HostInfo> {
    return {
      driver: 'fake',
      version: '1',
      accelerator: 'none',
      capabilities: {
        snapshots: true,
        liveSnapshots: true,
        linkedClones: true,
        pause: true,
        consoles: ['serial', 'vnc'],
        networkIsolation: 'memory',
        guestAgent: true,
        savedStates: true,
      },
      notes: [],
      machine: 'fake',
    };
  }

  private check(operation: string, name: string): void {
    if (this.failOn && this.failOn.operation === operation && (!this.failOn.name || name.endsWith(this.failOn.name))) {
      throw new HypervisorError('command_failed', this.failOn.message, { stderr: this.failOn.message });
    }
  }

  private vm(name: string): MemoryVm {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid name "${name}"`);
    const vm = this.vms.get(name);
    if (!vm) throw new HypervisorError('not_found', `VM ${name} does not exist`);
    return vm;
  }

  async listVms(): Promise<VmInfo[]> {
    return [...this.vms.values()].map((vm) => ({ ...vm.info }));
  }
  async getVm(name: string): Promise<VmInfo | null> {
    const vm = this.vms.get(name);
    return vm ? { ...vm.info } : null;
  }
  async createVm(spec: VmSpec): Promise<VmInfo> {
    if (!isValidName(spec.name)) throw new HypervisorError('invalid', `invalid name "${spec.name}"`);
    this.check('createVm', spec.name);
    if (spec.image.kind === 'disk' && spec.image.path.includes('does-not-exist'))
      throw new HypervisorError('not_found', `base image ${spec.image.path} does not exist`);
    for (const nic of spec.nics)
      if (!this.networks.has(nic.network)) throw new HypervisorError('not_found', `network ${nic.network} does not exist`);
    const existing = this.vms.get(spec.name);
    if (existing) return { ...existing.info };
    if (spec.savedState !== undefined && !this.savedStates.has(spec.savedState))
      throw new HypervisorError('not_found', `saved state ${spec.savedState} does not exist`);
    const savedMacs = spec.savedState !== undefined ? this.savedStates.get(spec.savedState)!.macs : undefined;
    const info: VmInfo = {
      name: spec.name,
      state: 'stopped',
      cpus: spec.cpus,
      memoryMiB: spec.memoryMiB,
      nics: spec.nics.map((n, i) => ({
        network: n.network,
        mac: savedMacs?.[i] ?? n.mac ?? `52:54:00:00:00:${i.toString(16).padStart(2, '0')}`,
      })),
      consoles: ['serial', 'vnc'],
    };
    const restore = spec.savedState !== undefined ? { savedState: spec.savedState } : {};
    this.vms.set(spec.name, {
      info,
      snapshots: [],
      files: new Map(),
      consoles: new Map(),
      ...restore,
      restorePending: spec.savedState !== undefined,
    });
    return { ...info };
  }
  async startVm(name: string): Promise<void> {
    this.check('startVm', name);
    const vm = this.vm(name);
    if (vm.info.state !== 'stopped') return;
    if (vm.restorePending && vm.savedState !== undefined) {
      const state = this.savedStates.get(vm.savedState);
      if (!state || state.corrupt) throw new HypervisorError('command_failed', `VM ${name} could not load saved state ${vm.savedState}`);
      vm.restorePending = false;
      vm.lastStart = 'saved-state';
    } else {
      vm.restorePending = false;
      vm.lastStart = 'boot';
    }
    vm.info.state = 'running';
  }
  /** How the VM last started (for tests). */
  lastStart(name: string): 'saved-state' | 'boot' | undefined {
    return this.vm(name).lastStart;
  }
  async stopVm(name: string, _options?: { timeoutMs?: number; force?: boolean }): Promise<void> {
    const vm = this.vm(name);
    vm.info.state = 'stopped';
    this.closeConsoles(vm);
  }
  async rebootVm(name: string): Promise<void> {
    this.vm(name).info.state = 'running';
  }
  async pauseVm(name: string): Promise<void> {
    const vm = this.vm(name);
    if (vm.info.state === 'stopped') throw new HypervisorError('invalid_state', `VM ${name} is stopped`);
    vm.info.state = 'paused';
  }
  async resumeVm(name: string): Promise<void> {
    const vm = this.vm(name);
    if (vm.info.state === 'stopped') throw new HypervisorError('invalid_state', `VM ${name} is stopped`);
    vm.info.state = 'running';
  }
  async destroyVm(name: string): Promise<void> {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid name "${name}"`);
    const vm = this.vms.get(name);
    if (vm) this.closeConsoles(vm);
    this.vms.delete(name);
  }
  async takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo> {
    const vm = this.vm(vmName);
    if (!isValidName(snapshotName)) throw new HypervisorError('invalid', `invalid name "${snapshotName}"`);
    const snapshot = {
      name: snapshotName,
      createdAt: new Date(),
      withMemory: vm.info.state === 'running',
      state: vm.info.state,
      files: copyFiles(vm.files),
      restorable: vm.restorePending,
    };
    vm.snapshots = [...vm.snapshots.filter((s) => s.name !== snapshotName), snapshot];
    return { name: snapshot.name, createdAt: snapshot.createdAt, withMemory: snapshot.withMemory };
  }
  async listSnapshots(vmName: string): Promise<SnapshotInfo[]> {
    return this.vm(vmName).snapshots.map(({ name, createdAt, withMemory }) => ({ name, createdAt, withMemory }));
  }
  async revertSnapshot(vmName: string, snapshotName: string): Promise<void> {
    const vm = this.vm(vmName);
    const snapshot = vm.snapshots.find((s) => s.name === snapshotName);
    if (!snapshot) throw new HypervisorError('not_found', `snapshot ${snapshotName} does not exist`);
    vm.info.state = snapshot.withMemory ? 'running' : 'stopped';
    // Like a real guest: what was written after the snapshot is gone.
    vm.files = copyFiles(snapshot.files);
    vm.restorePending = !snapshot.withMemory && snapshot.restorable;
  }
  async deleteSnapshot(vmName: string, snapshotName: string): Promise<void> {
    const vm = this.vm(vmName);
    vm.snapshots = vm.snapshots.filter((s) => s.name !== snapshotName);
  }
  async saveState(vmName: string, stateName: string): Promise<SavedStateInfo> {
    const vm = this.vm(vmName);
    if (!isValidName(stateName)) throw new HypervisorError('invalid', `invalid name "${stateName}"`);
    this.check('saveState', vmName);
    if (vm.info.state !== 'running') throw new HypervisorError('invalid_state', `VM ${vmName} is ${vm.info.state}`);
    const info: SavedStateInfo = {
      name: stateName,
      createdAt: new Date(),
      sizeBytes: vm.info.memoryMiB * 1024 * 1024,
      hypervisorVersion: '1',
      machine: 'fake',
    };
    this.savedStates.set(stateName, { ...info, macs: vm.info.nics.map((n) => n.mac) });
    vm.info.state = 'stopped';
    return { ...info };
  }
  async listSavedStates(): Promise<SavedStateInfo[]> {
    return [...this.savedStates.values()].map(({ corrupt: _, macs: __, ...info }) => info);
  }
  async deleteSavedState(stateName: string): Promise<void> {
    this.savedStates.delete(stateName);
  }
  /** Makes a saved state fail to load, as a damaged file would (for tests). */
  corruptSavedState(stateName: string): void {
    const state = this.savedStates.get(stateName);
    if (state) state.corrupt = true;
  }
  async createNetwork(spec: NetworkSpec): Promise<NetworkInfo> {
    if (!isValidName(spec.name)) throw new HypervisorError('invalid', `invalid name "${spec.name}"`);
    this.check('createNetwork', spec.name);
    const info = { name: spec.name, ...(spec.group ? { group: spec.group } : {}) };
    this.networks.set(spec.name, info);
    return info;
  }
  async destroyNetwork(name: string): Promise<void> {
    this.networks.delete(name);
  }
  async listNetworks(): Promise<NetworkInfo[]> {
    return [...this.networks.values()];
  }
  async openConsole(vmName: string, kind: ConsoleKind = 'serial'): Promise<Duplex> {
    return this.console(vmName, kind).open();
  }

  /** The shared console of a running VM (tests read `typed` to see what reached the guest). */
  console(vmName: string, kind: ConsoleKind = 'serial'): FakeConsole {
    const vm = this.vm(vmName);
    if (vm.info.state === 'stopped') throw new HypervisorError('invalid_state', `VM ${vmName} is stopped`);
    let shared = vm.consoles.get(kind);
    if (!shared) vm.consoles.set(kind, (shared = new FakeConsole()));
    return shared;
  }

  private closeConsoles(vm: MemoryVm): void {
    for (const shared of vm.consoles.values()) shared.close();
    vm.consoles.clear();
  }

  async waitForGuestAgent(vmName: string, _timeoutMs?: number): Promise<void> {
    this.runningVm(vmName);
    this.check('waitForGuestAgent', vmName);
  }

  async guestExec(vmName: string, command: GuestCommand): Promise<GuestExecResult> {
    const vm = this.runningVm(vmName);
    this.check('guestExec', vmName);
    if (command.argv.length === 0) throw new HypervisorError('invalid', 'guestExec needs a program (argv[0])');
    return (vm.execHandler ?? defaultGuestExec)(command, vm.files);
  }

  async guestWriteFile(vmName: string, file: GuestFile): Promise<void> {
    const vm = this.runningVm(vmName);
    this.check('guestWriteFile', vmName);
    if (!file.path.startsWith('/')) throw new HypervisorError('invalid', `guest path "${file.path}" is not absolute`);
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content);
    vm.files.set(file.path, {
      content,
      ...(file.mode !== undefined ? { mode: file.mode } : {}),
      ...(file.owner ? { owner: file.owner } : {}),
      ...(file.prepared ? { prepared: true } : {}),
    });
  }

  /** Test helper: the files written into a VM over the private channel, by path. */
  guestFiles(vmName: string): Map<string, FakeGuestFile> {
    return this.vm(vmName).files;
  }

  /** Test helper: make `guestExec` on this VM answer with `handler` (omit it to restore the default). */
  onGuestExec(vmName: string, handler?: FakeGuestExecHandler): void {
    this.vm(vmName).execHandler = handler;
  }

  private runningVm(name: string): MemoryVm {
    const vm = this.vm(name);
    if (vm.info.state !== 'running') throw new HypervisorError('invalid_state', `VM ${name} is ${vm.info.state}`);
    return vm;
  }
}

function copyFiles(files: Map<string, FakeGuestFile>): Map<string, FakeGuestFile> {
  return new Map([...files].map(([path, file]) => [path, { ...file, content: Buffer.from(file.content) }]));
}
