import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { runCommand, type CommandRunner } from '../command-runner.js';
import {
  isValidName,
  type GuestCommand,
  type GuestExecResult,
  type GuestFile,
  type BaseImage,
  type ConsoleKind,
  type HostInfo,
  type HypervisorDriver,
  type NetworkInfo,
  type NetworkSpec,
  type SavedStateInfo,
  type SnapshotInfo,
  type VmInfo,
  type VmSpec,
  type VmState,
} from '../driver.js';
import { HypervisorError } from '../errors.js';
import { shortHash } from '../short-hash.js';
import { VBoxGuestControl } from './guest-control.js';
import { parseListVms } from './list-vms.parser.js';
import { parseMachineReadable } from './machine-readable.parser.js';
import { parseSnapshotList } from './snapshot-list.parser.js';
import { adapterFor, vbox, type VBoxCliAdapter } from './vbox-cli.js';
import { writeSeedIso } from '../qemu/cloud-init-seed.js';

/** The storage controller of base VMs made from library disks. */
const DISK_CONTROLLER = 'SATA';

export interface VirtualBoxDriverOptions {
  /** Where the driver keeps its records (networks, VRDE ports) and the VMs' serial sockets. */
  stateDir: string;
  runner?: CommandRunner;
  /** VRDE (VNC with the VNC extension pack) ports are taken from here upwards. */
  vrdePortBase?: number;
  /** How often `waitForGuestAgent` polls the Guest Additions (default 1000 ms). */
  guestPollMs?: number;
  /** Names temporary guest files (default random); tests fix it to assert exact argv. */
  guestTempName?: () => string;
}

interface State {
  /** `guestUser`: the account guestcontrol logs in as (its password is in its own 0600 file). */
  vms: Record<string, { vrdePort: number; guestUser?: string }>;
  networks: Record<string, { intnet: string; group?: string }>;
}

const BASE_SNAPSHOT = 'ctp-base';
const MEMORY_MARK = 'ctp:memory=1';

/** `VMState` values → the contract's states. */
function stateOf(vmState: string | undefined): VmState {
  switch (vmState) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'starting':
    case 'restoring':
      return 'starting';
    case 'poweroff':
    case 'saved':
    case 'aborted':
    case 'powered off':
      return 'stopped';
    default:
      return 'error';
  }
}

/**
 * The VirtualBox driver, through `VBoxManage`: a base appliance (OVA/OVF) is imported once and
 * snapshotted; each VM is a linked clone of that snapshot, its NICs on internal networks named
 * at random per lab network, its serial port a server socket, its screen on VRDE. Only names the
 * driver created are listed or touched.
 */
export class VirtualBoxDriver implements HypervisorDriver {
  readonly kind = 'virtualbox';
  private readonly run: CommandRunner;
  private cli: Promise<{ version: string; adapter: VBoxCliAdapter }> | undefined;
  private readonly stateFile: string;
  private readonly guest: VBoxGuestControl;

  constructor(private readonly options: VirtualBoxDriverOptions) {
    this.run = options.runner ?? runCommand;
    mkdirSync(options.stateDir, { recursive: true });
    this.stateFile = path.join(options.stateDir, 'virtualbox.json');
    this.guest = new VBoxGuestControl(this.run, options.stateDir, options.guestPollMs, options.guestTempName);
  }

  private version(): Promise<{ version: string; adapter: VBoxCliAdapter }> {
    this.cli ??= this.run(['VBoxManage', '--version']).then((r) => adapterFor(r.stdout));
    this.cli.catch(() => (this.cli = undefined));
    return this.cli;
  }

  async probe(): Promise<HostInfo> {
    const { version } = await this.version();
    const extpacks = (await vbox(this.run, ['list', 'extpacks'])).stdout;
    const vnc = /Pack no\. \d+:\s+VNC/.test(extpacks);
    return {
      driver: 'virtualbox',
      version,
      accelerator: 'hardware',
      capabilities: {
        snapshots: true,
        liveSnapshots: true,
        linkedClones: true,
        pause: true,
        consoles: vnc ? ['serial', 'vnc'] : ['serial'],
        networkIsolation: 'intnet',
        guestAgent: true,
        savedStates: false,
      },
      notes: vnc ? [] : ['No VNC extension pack: VRDE speaks RDP only, so the screen console is unavailable'],
    };
  }

  async listVms(): Promise<VmInfo[]> {
    const mine = new Set(Object.keys(this.read().vms));
    const present = parseListVms((await vbox(this.run, ['list', 'vms'])).stdout).filter((vm) => mine.has(vm.name));
    const infos = await Promise.all(present.map((vm) => this.getVm(vm.name)));
    return infos.filter((vm): vm is VmInfo => vm !== null);
  }

  async getVm(name: string): Promise<VmInfo | null> {
    if (!isValidName(name) || !this.read().vms[name]) return null;
    const info = await this.info(name).catch((error: unknown) => {
      if (error instanceof HypervisorError && error.code === 'not_found') return null;
      throw error;
    });
    return info;
  }

  async createVm(spec: VmSpec): Promise<VmInfo> {
    this.check(spec.name);
    if (spec.savedState !== undefined)
      throw new HypervisorError('unsupported', 'the virtualbox driver cannot start VMs from a saved running state');
    const { adapter } = await this.version();
    const existing = await this.getVm(spec.name);
    if (existing) return existing;
    const state = this.read();
    for (const nic of spec.nics)
      if (!state.networks[nic.network]) throw new HypervisorError('not_found', `network ${nic.network} does not exist`);
    const base = await this.ensureBase(spec.image);
    await vbox(this.run, [
      'clonevm',
      base,
      '--snapshot',
      BASE_SNAPSHOT,
      '--options',
      'link',
      '--name',
      spec.name,
      '--groups',
      '/ctp',
      '--register',
    ]);
    try {
      const vrdePort = (this.options.vrdePortBase ?? 5900) + (parseInt(shortHash(spec.name, 6), 16) % 1000);
      const modify = ['modifyvm', spec.name, '--cpus', String(spec.cpus), '--memory', String(spec.memoryMiB)];
      spec.nics.forEach((nic, i) => {
        const n = i + 1;
        modify.push(`--nic${n}`, 'intnet', `--intnet${n}`, state.networks[nic.network]!.intnet, adapter.nicType(n), 'virtio');
        if (nic.mac) modify.push(`--macaddress${n}`, nic.mac.replaceAll(':', '').toUpperCase());
      });
      modify.push('--uart1', '0x3F8', '4', adapter.uartMode(1), 'server', this.serialPath(spec.name));
      modify.push('--vrde', 'on', adapter.vrdePort, String(vrdePort), adapter.vrdeAddress, '127.0.0.1');
      await vbox(this.run, modify);
      if (spec.cloudInit && spec.image.kind === 'disk') {
        // The same NoCloud seed as on QEMU, as a DVD on the base's SATA controller.
        const seed = path.join(this.options.stateDir, `${spec.name}.seed.iso`);
        await writeSeedIso(seed, spec.cloudInit, this.run);
        await vbox(this.run, [
          'storageattach',
          spec.name,
          '--storagectl',
          DISK_CONTROLLER,
          '--port',
          '1',
          '--device',
          '0',
          '--type',
          'dvddrive',
          '--medium',
          seed,
        ]);
      }
      const credentials = spec.guestAgent === false ? undefined : spec.guestCredentials;
      if (credentials) writeFileSync(this.guest.passwordFile(spec.name), credentials.password, { mode: 0o600 });
      const record = { vrdePort, ...(credentials ? { guestUser: credentials.username } : {}) };
      this.write({ ...this.read(), vms: { ...this.read().vms, [spec.name]: record } });
    } catch (error) {
      // A failed create leaves nothing behind.
      await vbox(this.run, ['unregistervm', spec.name, '--delete']).catch(() => {});
      throw error;
    }
    return (await this.info(spec.name))!;
  }

  async startVm(name: string): Promise<void> {
    const state = await this.stateOf(name);
    if (state === 'running' || state === 'starting') return;
    if (state === 'paused') return this.resumeVm(name);
    await vbox(this.run, ['startvm', name, '--type', 'headless']);
  }

  async stopVm(name: string, options: { timeoutMs?: number; force?: boolean } = {}): Promise<void> {
    const state = await this.stateOf(name);
    if (state === 'stopped') return;
    if (!options.force && state === 'running') {
      await vbox(this.run, ['controlvm', name, 'acpipowerbutton']);
      const deadline = Date.now() + (options.timeoutMs ?? 10_000);
      while (Date.now() < deadline) {
        if ((await this.stateOf(name)) === 'stopped') return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await vbox(this.run, ['controlvm', name, 'poweroff']);
  }

  async rebootVm(name: string): Promise<void> {
    await this.requireRunning(name);
    await vbox(this.run, ['controlvm', name, 'reset']);
  }

  async pauseVm(name: string): Promise<void> {
    if ((await this.requireRunning(name)) === 'running') await vbox(this.run, ['controlvm', name, 'pause']);
  }

  async resumeVm(name: string): Promise<void> {
    if ((await this.requireRunning(name)) === 'paused') await vbox(this.run, ['controlvm', name, 'resume']);
  }

  async destroyVm(name: string): Promise<void> {
    this.check(name);
    const state = await this.stateOf(name).catch((error: unknown) => {
      if (error instanceof HypervisorError && error.code === 'not_found') return undefined;
      throw error;
    });
    if (state !== undefined) {
      if (state !== 'stopped') await vbox(this.run, ['controlvm', name, 'poweroff']).catch(() => {});
      await vbox(this.run, ['unregistervm', name, '--delete']).catch((error: unknown) => {
        if (!(error instanceof HypervisorError && error.code === 'not_found')) throw error;
      });
    }
    const current = this.read();
    delete current.vms[name];
    this.write(current);
    rmSync(this.guest.passwordFile(name), { force: true });
  }

  async takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo> {
    this.check(snapshotName);
    const state = await this.stateOf(vmName);
    const withMemory = state === 'running' || state === 'paused';
    // The description records whether RAM was saved; `snapshot list` does not say.
    await vbox(this.run, [
      'snapshot',
      vmName,
      'take',
      snapshotName,
      '--description',
      withMemory ? MEMORY_MARK : 'ctp:memory=0',
      ...(withMemory ? ['--live'] : []),
    ]);
    return { name: snapshotName, createdAt: new Date(), withMemory };
  }

  async listSnapshots(vmName: string): Promise<SnapshotInfo[]> {
    this.check(vmName);
    const result = await this.run(['VBoxManage', '-q', 'snapshot', vmName, 'list', '--machinereadable'], {
      okCodes: [0, 1],
      timeoutMs: 60_000,
    });
    if (result.code !== 0 && !/does not have any snapshots/.test(result.stdout + result.stderr)) {
      if (/VBOX_E_OBJECT_NOT_FOUND|Could not find a registered machine/.test(result.stderr))
        throw new HypervisorError('not_found', `VM ${vmName} does not exist`, { stderr: result.stderr });
      throw new HypervisorError('command_failed', `VBoxManage snapshot list failed: ${result.stderr.trim()}`, { stderr: result.stderr });
    }
    // VirtualBox lists no creation time in this format; the order is the tree's.
    return parseSnapshotList(result.stdout)
      .filter((s) => s.name !== BASE_SNAPSHOT)
      .map((s) => ({ name: s.name, createdAt: new Date(0), withMemory: s.description.includes(MEMORY_MARK) }));
  }

  async revertSnapshot(vmName: string, snapshotName: string): Promise<void> {
    const snapshot = (await this.listSnapshots(vmName)).find((s) => s.name === snapshotName);
    if (!snapshot) throw new HypervisorError('not_found', `snapshot ${snapshotName} of ${vmName} does not exist`);
    // VirtualBox restores only a powered-off VM; a snapshot with RAM then resumes where it was.
    if ((await this.stateOf(vmName)) !== 'stopped') await vbox(this.run, ['controlvm', vmName, 'poweroff']);
    await vbox(this.run, ['snapshot', vmName, 'restore', snapshotName]);
    if (snapshot.withMemory) await vbox(this.run, ['startvm', vmName, '--type', 'headless']);
  }

  async deleteSnapshot(vmName: string, snapshotName: string): Promise<void> {
    if (!(await this.listSnapshots(vmName)).some((s) => s.name === snapshotName)) return;
    await vbox(this.run, ['snapshot', vmName, 'delete', snapshotName]);
  }

  async createNetwork(spec: NetworkSpec): Promise<NetworkInfo> {
    this.check(spec.name);
    const state = this.read();
    // An internal network exists once a NIC names it; a random name keeps labs from guessing each other's.
    state.networks[spec.name] ??= { intnet: `ctp-${randomBytes(6).toString('hex')}`, ...(spec.group ? { group: spec.group } : {}) };
    this.write(state);
    return { name: spec.name, ...(spec.group ? { group: spec.group } : {}) };
  }

  async destroyNetwork(name: string): Promise<void> {
    this.check(name);
    const state = this.read();
    delete state.networks[name];
    this.write(state);
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    return Object.entries(this.read().networks).map(([name, n]) => ({ name, ...(n.group ? { group: n.group } : {}) }));
  }

  /** VirtualBox's own saved states belong to one VM and cannot seed others: labs boot. */
  async saveState(): Promise<SavedStateInfo> {
    throw new HypervisorError('unsupported', 'the virtualbox driver cannot start VMs from a saved running state');
  }

  async listSavedStates(): Promise<SavedStateInfo[]> {
    return [];
  }

  async deleteSavedState(): Promise<void> {}

  async openConsole(vmName: string, kind: ConsoleKind): Promise<Duplex> {
    await this.requireRunning(vmName);
    const record = this.read().vms[vmName];
    if (kind === 'vnc' && !(await this.probe()).capabilities.consoles.includes('vnc'))
      throw new HypervisorError('unsupported', 'VRDE has no VNC extension pack here');
    return new Promise((resolve, reject) => {
      const socket = kind === 'serial' ? net.connect(this.serialPath(vmName)) : net.connect(record!.vrdePort, '127.0.0.1');
      socket.once('connect', () => resolve(socket));
      socket.once('error', (error) => reject(new HypervisorError('invalid_state', `${kind} console unavailable: ${error.message}`)));
    });
  }

  async waitForGuestAgent(vmName: string, timeoutMs = 60_000): Promise<void> {
    const user = this.guestUser(vmName);
    await this.requireRunning(vmName);
    await this.guest.waitForAdditions(vmName, user, timeoutMs);
  }

  async guestExec(vmName: string, command: GuestCommand): Promise<GuestExecResult> {
    const user = this.guestUser(vmName);
    await this.requireGuestRunning(vmName);
    return this.guest.exec(vmName, user, command);
  }

  async guestWriteFile(vmName: string, file: GuestFile): Promise<void> {
    const user = this.guestUser(vmName);
    await this.requireGuestRunning(vmName);
    await this.guest.writeFile(vmName, user, file);
  }

  // --- internals ---

  /** Imports an appliance once as a base VM with a snapshot to clone from; returns its name. */
  private async ensureBase(image: BaseImage): Promise<string> {
    if (image.kind === 'disk' && image.boot)
      throw new HypervisorError('unsupported', 'VirtualBox cannot boot a kernel directly: the image needs its own bootloader');
    if (image.kind !== 'appliance' && image.kind !== 'disk')
      throw new HypervisorError('unsupported', `the virtualbox driver clones OVA/OVF appliances and disks, not ${image.kind} images`);
    const base = `ctpbase-${shortHash(image.path, 10)}`;
    const exists = await vbox(this.run, ['showvminfo', base, '--machinereadable']).then(
      () => true,
      (error: unknown) => {
        if (error instanceof HypervisorError && error.code === 'not_found') return false;
        throw error;
      },
    );
    if (!exists) {
      if (image.kind === 'appliance') await vbox(this.run, ['import', image.path, '--vsys', '0', '--vmname', base], 600_000);
      else await this.createDiskBase(base, image);
      await vbox(this.run, ['snapshot', base, 'take', BASE_SNAPSHOT]);
    }
    return base;
  }

  /**
   * A base VM for a library disk: the qcow2 converted once to a VDI (VirtualBox cannot read
   * qcow2), attached to a SATA controller; clones are linked clones of its snapshot.
   */
  private async createDiskBase(base: string, image: Extract<BaseImage, { kind: 'disk' }>): Promise<void> {
    const vdi = path.join(this.options.stateDir, `${base}.vdi`);
    await this.run(['qemu-img', 'convert', '-f', image.format, '-O', 'vdi', image.path, vdi], { timeoutMs: 3_600_000 });
    await vbox(this.run, ['createvm', '--name', base, '--ostype', 'Linux_64', '--register']);
    await vbox(this.run, ['modifyvm', base, '--firmware', image.firmware === 'uefi' ? 'efi' : 'bios']);
    await vbox(this.run, ['storagectl', base, '--name', DISK_CONTROLLER, '--add', 'sata', '--controller', 'IntelAhci']);
    await vbox(this.run, [
      'storageattach',
      base,
      '--storagectl',
      DISK_CONTROLLER,
      '--port',
      '0',
      '--device',
      '0',
      '--type',
      'hdd',
      '--medium',
      vdi,
    ]);
  }

  private async info(name: string): Promise<VmInfo> {
    const values = parseMachineReadable((await vbox(this.run, ['showvminfo', name, '--machinereadable'])).stdout);
    const networks = Object.entries(this.read().networks);
    const nics: VmInfo['nics'] = [];
    for (let n = 1; n <= 8; n++) {
      if (values.get(`nic${n}`) !== 'intnet') continue;
      const intnet = values.get(`intnet${n}`);
      const mac = (values.get(`macaddress${n}`) ?? '').toLowerCase().match(/../g)?.join(':') ?? '';
      // The contract speaks of lab networks by their names, never VirtualBox's.
      nics.push({ network: networks.find(([, record]) => record.intnet === intnet)?.[0] ?? 'unknown', mac });
    }
    return {
      name,
      state: stateOf(values.get('VMState')),
      cpus: Number(values.get('cpus') ?? 1),
      memoryMiB: Number(values.get('memory') ?? 0),
      nics,
      consoles: values.get('vrde') === 'on' ? ['serial', 'vnc'] : ['serial'],
    };
  }

  private async stateOf(name: string): Promise<VmState> {
    this.check(name);
    const values = parseMachineReadable((await vbox(this.run, ['showvminfo', name, '--machinereadable'])).stdout);
    return stateOf(values.get('VMState'));
  }

  private async requireRunning(name: string): Promise<VmState> {
    const state = await this.stateOf(name);
    if (state !== 'running' && state !== 'paused') throw new HypervisorError('invalid_state', `VM ${name} is ${state}`);
    return state;
  }

  /** The guest account of a VM created with `guestCredentials` (guestcontrol cannot work without one). */
  private guestUser(name: string): string {
    this.check(name);
    const record = this.read().vms[name];
    if (!record) throw new HypervisorError('not_found', `VM ${name} does not exist`);
    if (!record.guestUser)
      throw new HypervisorError(
        'unsupported',
        `VM ${name} was created without guestCredentials: VirtualBox guestcontrol needs a guest account`,
      );
    return record.guestUser;
  }

  private async requireGuestRunning(name: string): Promise<void> {
    const state = await this.requireRunning(name);
    if (state !== 'running') throw new HypervisorError('invalid_state', `VM ${name} is ${state}: its Guest Additions cannot answer`);
  }

  private serialPath(name: string): string {
    return path.join(this.options.stateDir, `${name}.serial`);
  }

  private check(name: string): void {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid name "${name}"`);
  }

  private read(): State {
    try {
      return JSON.parse(readFileSync(this.stateFile, 'utf8')) as State;
    } catch {
      return { vms: {}, networks: {} };
    }
  }

  private write(state: State): void {
    writeFileSync(`${this.stateFile}.tmp`, JSON.stringify(state, null, 2));
    renameSync(`${this.stateFile}.tmp`, this.stateFile);
  }
}
