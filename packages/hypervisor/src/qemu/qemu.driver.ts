import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { runCommand, type CommandRunner } from '../command-runner.js';
import {
  isValidName,
  type GuestCommand,
  type GuestExecResult,
  type GuestFile,
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
import { HypervisorError, unsupported } from '../errors.js';
import type { LabNetworkBackend } from './network/lab-network.js';
import { macFor } from './network/names.js';
import { probeAccelerator } from './accelerator.js';
import { QemuGuestChannel } from './guest-channel.js';
import { writeSeedIso } from './cloud-init-seed.js';
import { flattenDisk } from '../images/image-inspect.js';
import { migrateToFile, restoreFromFile } from './migration.js';
import { deviceLayout, QEMU_MACHINE, qemuArgs } from './qemu-args.js';
import { QemuImg } from './qemu-img.js';
import { QmpClient } from './qmp.client.js';
import { SavedStateStore } from './saved-state.store.js';
import { SerialHub } from './serial-hub.js';
import { VmStateStore, type StoredVm } from './vm-state.store.js';

export interface QemuDriverOptions {
  /** Where each VM keeps its spec, overlay, sockets, pidfile and serial log. */
  stateDir: string;
  network: LabNetworkBackend;
  runner?: CommandRunner;
  accelerator?: 'auto' | 'kvm' | 'tcg';
  qemuBinary?: string;
  /** A kernel to boot when probing KVM (a VM may start with KVM and then hang); e.g. the demo kernel. */
  probeKernel?: string;
  /** Where the accelerator probe's answer is kept (default `stateDir/.accelerator.json`); drivers may share one. */
  acceleratorCacheFile?: string;
  /** Where saved running states live (default `<stateDir>/.saved-states`). */
  savedStateDir?: string;
  /** TCG's translation cache per VM in MiB (QEMU's default: up to 1 GiB); ignored with KVM. */
  tcgTranslationCacheMiB?: number;
}

/**
 * The QEMU driver: each VM is a daemonized `qemu-system-x86_64` on a qcow2 overlay of a read-only
 * base, controlled through QMP on a unix socket, with its serial port and VNC screen on unix
 * sockets. Everything about a VM lives in `stateDir/<name>/`, so a new driver object (after an
 * API restart) finds running VMs again through their pidfiles and QMP sockets.
 */
export class QemuDriver implements HypervisorDriver {
  readonly kind = 'qemu';
  private readonly run: CommandRunner;
  private readonly qemu: string;
  private host: Promise<HostInfo> | undefined;
  private readonly hubs = new Map<string, Promise<SerialHub>>();
  private readonly store: VmStateStore;
  private readonly guest = new QemuGuestChannel();
  private readonly img: QemuImg;
  private readonly saved: SavedStateStore;
  /** Saved states whose empty overlay is being made (see `overlayOnState`). */
  private readonly overlayTemplates = new Map<string, Promise<void>>();

  constructor(private readonly options: QemuDriverOptions) {
    this.run = options.runner ?? runCommand;
    this.qemu = options.qemuBinary ?? 'qemu-system-x86_64';
    this.store = new VmStateStore(options.stateDir);
    this.img = new QemuImg(this.run);
    this.saved = new SavedStateStore(options.savedStateDir ?? path.join(options.stateDir, '.saved-states'));
  }

  probe(): Promise<HostInfo> {
    this.host ??= (async () => {
      const { stdout } = await this.run([this.qemu, '--version']);
      const version = stdout.match(/version (\S+)/)?.[1] ?? stdout.trim();
      const choice = await this.accelerator(version);
      // Once per driver (probes are cached): connect again to the agents of the VMs it finds running.
      void this.keepGuestChannels().catch(() => {});
      return {
        driver: 'qemu',
        version,
        accelerator: choice.accelerator,
        capabilities: {
          snapshots: true,
          liveSnapshots: true,
          linkedClones: true,
          pause: true,
          consoles: ['serial', 'vnc'],
          networkIsolation: this.options.network.isolation,
          guestAgent: true,
          savedStates: true,
        },
        notes: choice.notes,
        machine: QEMU_MACHINE,
        deviceLayout: deviceLayout(),
      };
    })();
    this.host.catch(() => (this.host = undefined));
    return this.host;
  }

  /** The accelerator choice, probed once per QEMU version and kept in a cache file (the state directory's by default). */
  private async accelerator(version: string): Promise<{ accelerator: 'kvm' | 'tcg'; notes: string[] }> {
    const wanted = this.options.accelerator ?? 'auto';
    const cacheFile = this.options.acceleratorCacheFile ?? path.join(this.options.stateDir, '.accelerator.json');
    if (wanted === 'auto') {
      try {
        const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { version: string; accelerator: 'kvm' | 'tcg'; notes: string[] };
        if (cached.version === version)
          return { accelerator: cached.accelerator, notes: [...cached.notes, `(probed earlier; delete ${cacheFile} to probe again)`] };
      } catch {
        // no cache yet
      }
    }
    const choice = await probeAccelerator(this.qemu, wanted, this.options.probeKernel);
    if (wanted === 'auto') writeFileSync(cacheFile, JSON.stringify({ version, ...choice }));
    return choice;
  }

  async listVms(): Promise<VmInfo[]> {
    const vms = await Promise.all(this.store.names().map((n) => this.getVm(n)));
    return vms.filter((vm): vm is VmInfo => vm !== null);
  }

  async getVm(name: string): Promise<VmInfo | null> {
    if (!isValidName(name)) return null;
    const stored = this.store.read(name);
    if (!stored) return null;
    return this.info(name, stored, await this.state(name));
  }

  async createVm(spec: VmSpec): Promise<VmInfo> {
    this.checkName(spec.name);
    const existing = this.store.read(spec.name);
    if (existing) return this.info(spec.name, existing, await this.state(spec.name));
    for (const nic of spec.nics) {
      if (!(await this.options.network.list()).some((n) => n.name === nic.network))
        throw new HypervisorError('not_found', `network ${nic.network} does not exist`);
    }
    if (spec.savedState !== undefined) return this.createFromSavedState(spec);
    this.store.makeDir(spec.name);
    try {
      const disk = this.store.paths(spec.name).disk;
      if (spec.image.kind === 'disk') {
        const needed = [spec.image.path, ...(spec.image.boot ? [spec.image.boot.kernel, spec.image.boot.initrd] : [])];
        for (const file of needed) if (!existsSync(file)) throw new HypervisorError('not_found', `base image file ${file} does not exist`);
        // A linked clone: the base is only read, the overlay takes the writes.
        await this.img.createOverlay(disk, spec.image.path, spec.image.format);
      } else if (spec.image.kind === 'appliance') {
        throw new HypervisorError(
          'unsupported',
          'the qemu driver does not boot OVA/OVF appliances; convert their disk with the image store',
        );
      } else if (spec.image.kind === 'iso') {
        if (!existsSync(spec.image.path)) throw new HypervisorError('not_found', `base image ${spec.image.path} does not exist`);
        // The disk an installer installs onto.
        await this.img.createBlank(disk, spec.scratchDiskMiB ?? 20 * 1024);
      } else {
        for (const file of [spec.image.kernel, spec.image.initrd]) {
          if (!existsSync(file)) throw new HypervisorError('not_found', `base image file ${file} does not exist`);
        }
        // Kernel images have no disk, but RAM snapshots need a qcow2 disk to live in.
        await this.img.createBlank(disk, spec.scratchDiskMiB ?? 64);
      }
      if (spec.cloudInit) await writeSeedIso(this.store.paths(spec.name).seed, spec.cloudInit, this.run);
      // The seed's content (a generated password) lives only in seed.iso: the stored spec keeps that there is one.
      const kept: VmSpec = spec.cloudInit ? { ...spec, cloudInit: { metaData: '(in seed.iso)', userData: '(in seed.iso)' } } : spec;
      const stored: StoredVm = { spec: kept, macs: spec.nics.map((nic, i) => nic.mac ?? macFor(spec.name, i)) };
      this.store.write(spec.name, stored);
      return this.info(spec.name, stored, 'stopped');
    } catch (error) {
      this.store.remove(spec.name);
      throw error;
    }
  }

  async startVm(name: string, extraArgs: string[] = []): Promise<void> {
    const stored = this.require(name);
    const state = await this.state(name);
    if (state === 'running') return;
    if (state === 'paused') return this.resumeVm(name);
    const host = await this.probe();
    this.forgetGuest(name);
    this.store.removeRunFiles(name);
    const restore =
      stored.restorePending && stored.savedState !== undefined && extraArgs.length === 0 ? this.saved.paths(stored.savedState) : undefined;
    const restoreMeta = restore ? this.saved.read(stored.savedState!) : undefined;
    if (restore && !restoreMeta) throw new HypervisorError('not_found', `saved state ${stored.savedState} of ${name} does not exist`);
    // Guest RAM: the saved RAM image mapped copy-on-write (restored VMs share its unchanged pages),
    // a file of its own for a VM to be saved, else anonymous memory.
    const memoryFile = restoreMeta?.ramFile
      ? { path: restore!.ram, shared: false }
      : stored.spec.saveable && !restore
        ? { path: this.store.paths(name).memoryFile, shared: true }
        : undefined;
    // A new boot starts a new console history: scrollback shows this run of the VM only. A
    // restored VM's history is the saved guest's, up to the moment it was saved.
    if (restore) copyFileSync(restore.console, this.store.paths(name).serialLog);
    else this.store.resetSerialLog(name);
    const nicArgs: string[] = [];
    try {
      for (const [i, nic] of stored.spec.nics.entries()) {
        nicArgs.push(...(await this.options.network.attachNic(nic.network, name, i, stored.macs[i]!)));
      }
      const accelerator = host.accelerator === 'kvm' ? 'kvm' : 'tcg';
      const argv = qemuArgs({
        name,
        spec: stored.spec,
        accelerator,
        paths: this.store.paths(name),
        nicArgs,
        extra: extraArgs,
        ...(this.options.tcgTranslationCacheMiB ? { tcgTranslationCacheMiB: this.options.tcgTranslationCacheMiB } : {}),
        ...(memoryFile ? { memoryFile } : {}),
        ...(restore ? { incoming: true } : {}),
      });
      await this.run([this.qemu, ...argv], { timeoutMs: 30_000 });
      if (restore) {
        const running = () => {
          // QEMU removes its pidfile as it exits.
          const pid = this.store.pid(name);
          return pid !== undefined && alive(pid);
        };
        await this.qmp(name, (q) => restoreFromFile(q, restore.memory, { ramInFile: restoreMeta?.ramFile === true, alive: running }));
      }
    } catch (error) {
      const pid = this.store.pid(name);
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
      this.store.removeRunFiles(name);
      await this.detachNics(name, stored);
      throw error;
    }
    if (stored.restorePending) this.store.write(name, { ...stored, restorePending: false });
  }

  async stopVm(name: string, options: { timeoutMs?: number; force?: boolean } = {}): Promise<void> {
    const stored = this.require(name);
    const pid = this.store.pid(name);
    if (pid !== undefined && alive(pid)) {
      if (!options.force) {
        await this.qmp(name, (q) => q.execute('system_powerdown')).catch(() => {});
        await waitForExit(pid, options.timeoutMs ?? 10_000);
      }
      if (alive(pid)) {
        await this.qmp(name, (q) => q.execute('quit')).catch(() => {});
        await waitForExit(pid, 3000);
      }
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 3000);
    }
    this.closeHub(name);
    this.forgetGuest(name);
    this.store.removeRunFiles(name);
    await this.detachNics(name, stored);
  }

  async rebootVm(name: string): Promise<void> {
    await this.requireRunning(name);
    this.forgetGuest(name);
    await this.qmp(name, (q) => q.execute('system_reset'));
  }

  async pauseVm(name: string): Promise<void> {
    const state = await this.requireRunning(name);
    if (state === 'running') await this.qmp(name, (q) => q.execute('stop'));
  }

  async resumeVm(name: string): Promise<void> {
    const state = await this.requireRunning(name);
    if (state === 'paused') await this.qmp(name, (q) => q.execute('cont'));
  }

  /** Flattens the VM's overlay and its base into a standalone qcow2 (the VM is stopped first: a consistent disk). */
  async exportDisk(name: string, target: string, onProgress: (percent: number) => void = () => {}): Promise<void> {
    this.require(name);
    if ((await this.state(name)) !== 'stopped') await this.stopVm(name, { timeoutMs: 60_000 });
    await flattenDisk(this.store.paths(name).disk, target, onProgress);
  }

  async destroyVm(name: string): Promise<void> {
    this.checkName(name);
    if (!this.store.exists(name)) return;
    if (this.store.read(name)) await this.stopVm(name, { force: true });
    this.store.remove(name);
  }

  async takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo> {
    this.require(vmName);
    this.checkName(snapshotName);
    const state = await this.state(vmName);
    if (state === 'running' || state === 'paused') {
      // savevm stores RAM, CPU and disk state inside the qcow2 overlay.
      const output = await this.qmp(vmName, (q) => q.hmp(`savevm ${snapshotName}`));
      if (output.trim()) throw new HypervisorError('command_failed', `savevm failed: ${output.trim()}`, { stderr: output });
    } else {
      await this.img.createSnapshot(this.store.paths(vmName).disk, snapshotName);
      // A snapshot of a disk never booted from: reverting to it resumes the saved state again.
      const stored = this.require(vmName);
      if (stored.restorePending) {
        const restorable = [...(stored.restorableSnapshots ?? []).filter((s) => s !== snapshotName), snapshotName];
        this.store.write(vmName, { ...stored, restorableSnapshots: restorable });
      }
      // qemu-img succeeded: no second process to read it back (every VM of a class start is here at once).
      return { name: snapshotName, createdAt: new Date(), withMemory: false };
    }
    const snapshot = (await this.listSnapshots(vmName)).find((s) => s.name === snapshotName);
    if (!snapshot) throw new HypervisorError('command_failed', `snapshot ${snapshotName} was not recorded`);
    return snapshot;
  }

  async listSnapshots(vmName: string): Promise<SnapshotInfo[]> {
    this.require(vmName);
    const snapshots = await this.img.snapshots(this.store.paths(vmName).disk);
    return snapshots.map((s) => ({ name: s.name, createdAt: s.createdAt, withMemory: s.vmStateSize > 0 }));
  }

  async revertSnapshot(vmName: string, snapshotName: string): Promise<void> {
    const snapshot = (await this.listSnapshots(vmName)).find((s) => s.name === snapshotName);
    if (!snapshot) throw new HypervisorError('not_found', `snapshot ${snapshotName} of ${vmName} does not exist`);
    const state = await this.state(vmName);
    const running = state === 'running' || state === 'paused';
    if (snapshot.withMemory && running) {
      this.forgetGuest(vmName);
      const output = await this.qmp(vmName, (q) => q.hmp(`loadvm ${snapshotName}`));
      if (output.trim()) throw new HypervisorError('command_failed', `loadvm failed: ${output.trim()}`, { stderr: output });
      if (state === 'paused') await this.qmp(vmName, (q) => q.execute('cont'));
    } else if (snapshot.withMemory) {
      // A stopped VM comes back exactly as it was: QEMU loads the snapshot as it starts.
      await this.startVm(vmName, ['-loadvm', snapshotName]);
    } else {
      if (running) await this.stopVm(vmName, { force: true });
      await this.img.applySnapshot(this.store.paths(vmName).disk, snapshotName);
      const stored = this.require(vmName);
      if (stored.savedState !== undefined)
        this.store.write(vmName, { ...stored, restorePending: (stored.restorableSnapshots ?? []).includes(snapshotName) });
    }
  }

  async deleteSnapshot(vmName: string, snapshotName: string): Promise<void> {
    if (!(await this.listSnapshots(vmName)).some((s) => s.name === snapshotName)) return;
    const state = await this.state(vmName);
    if (state === 'running' || state === 'paused') await this.qmp(vmName, (q) => q.hmp(`delvm ${snapshotName}`));
    else await this.img.deleteSnapshot(this.store.paths(vmName).disk, snapshotName);
  }

  async saveState(vmName: string, stateName: string): Promise<SavedStateInfo> {
    const stored = this.require(vmName);
    this.checkName(stateName);
    if ((await this.state(vmName)) !== 'running') throw new HypervisorError('invalid_state', `VM ${vmName} is not running`);
    const host = await this.probe();
    const staged = this.saved.staging(stateName);
    try {
      const ramInFile = stored.spec.saveable === true && existsSync(this.store.paths(vmName).memoryFile);
      await this.qmp(vmName, (q) => migrateToFile(q, staged.memory, { ramInFile }), 130_000);
      // The guest is paused now and its disk flushed: what is on disk belongs to the saved RAM.
      await this.stopVm(vmName, { force: true });
      const paths = this.store.paths(vmName);
      const accelerator = host.accelerator === 'kvm' ? 'kvm' : 'tcg';
      const meta = {
        name: stateName,
        createdAt: new Date().toISOString(),
        hypervisorVersion: host.version,
        machine: QEMU_MACHINE,
        accelerator,
        spec: stored.spec,
        macs: stored.macs,
        ramFile: ramInFile,
      } as const;
      return this.saved.publish(staged, meta, paths.disk, paths.serialLog, ramInFile ? paths.memoryFile : undefined);
    } catch (error) {
      this.saved.remove(`.${stateName}.partial`);
      throw error;
    }
  }

  async listSavedStates(): Promise<SavedStateInfo[]> {
    return this.saved.list();
  }

  async deleteSavedState(stateName: string): Promise<void> {
    this.checkName(stateName);
    this.saved.remove(stateName);
  }

  async createNetwork(spec: NetworkSpec): Promise<NetworkInfo> {
    this.checkName(spec.name);
    return this.options.network.create(spec);
  }

  async destroyNetwork(name: string): Promise<void> {
    this.checkName(name);
    await this.options.network.destroy(name);
  }

  listNetworks(): Promise<NetworkInfo[]> {
    return this.options.network.list();
  }

  async openConsole(vmName: string, kind: ConsoleKind): Promise<Duplex> {
    const state = await this.requireRunning(vmName);
    void state;
    if (kind === 'vnc') {
      return new Promise((resolve, reject) => {
        const socket = net.connect(this.store.paths(vmName).vncSocket);
        socket.once('connect', () => resolve(socket));
        socket.once('error', (error) => reject(new HypervisorError('invalid_state', `VNC is not available: ${error.message}`)));
      });
    }
    let hub = this.hubs.get(vmName);
    if (!hub) {
      const paths = this.store.paths(vmName);
      hub = SerialHub.connect(paths.serialSocket, paths.serialLog, () => this.hubs.delete(vmName));
      this.hubs.set(vmName, hub);
      hub.catch(() => this.hubs.delete(vmName));
    }
    return (await hub).open();
  }

  /** Lets go of console and guest agent connections; VMs keep running (they outlive the driver by design). */
  close(): void {
    for (const name of [...this.hubs.keys()]) this.closeHub(name);
    this.guest.close();
  }

  async waitForGuestAgent(vmName: string, timeoutMs = 60_000): Promise<void> {
    // A VM still loading a saved state is paused for a moment: its agent answers once it runs.
    const socket = this.guestAgentSocket(vmName);
    await this.requireRunning(vmName);
    await this.guest.waitForAgent(socket, timeoutMs);
  }

  async guestExec(vmName: string, command: GuestCommand): Promise<GuestExecResult> {
    const socket = this.guestAgentSocket(vmName);
    // The state check queues with the VM's other guest operations: QMP, too, serves one client at a time.
    return this.guest.exec(socket, command, () => this.requireGuestChannel(vmName));
  }

  async guestWriteFile(vmName: string, file: GuestFile): Promise<void> {
    const socket = this.guestAgentSocket(vmName);
    return this.guest.writeFile(socket, file, () => this.requireGuestChannel(vmName));
  }

  // --- internals ---

  /** A VM whose disk is a new overlay on a saved state's disk layer, with the saved VM's devices and MACs. */
  private async createFromSavedState(spec: VmSpec): Promise<VmInfo> {
    const meta = this.saved.read(spec.savedState!);
    if (!meta) throw new HypervisorError('not_found', `saved state ${spec.savedState} does not exist`);
    if (meta.macs.length !== spec.nics.length)
      throw new HypervisorError('invalid', `saved state ${meta.name} has ${meta.macs.length} NICs, the VM ${spec.nics.length}`);
    this.store.makeDir(spec.name);
    try {
      await this.overlayOnState(meta.name, this.store.paths(spec.name).disk);
      const stored: StoredVm = {
        spec: {
          ...withoutSaveable(meta.spec),
          name: spec.name,
          // The resumed guest booted long ago and never reads them again, but when this VM boots
          // later (stopped and started) it is itself: its own kernel arguments, not the saved VM's.
          ...(spec.kernelArgs !== undefined ? { kernelArgs: spec.kernelArgs } : {}),
          nics: spec.nics.map((nic, i) => ({ network: nic.network, mac: meta.macs[i]! })),
          savedState: meta.name,
        },
        macs: meta.macs,
        savedState: meta.name,
        restorePending: true,
      };
      this.store.write(spec.name, stored);
      return this.info(spec.name, stored, 'stopped');
    } catch (error) {
      this.store.remove(spec.name);
      throw error;
    }
  }

  /**
   * A new empty overlay on a saved state's disk layer: a copy of the state's own empty overlay
   * (made by qemu-img once per state), as every restored VM of a class start needs one at once.
   */
  private async overlayOnState(stateName: string, target: string): Promise<void> {
    const paths = this.saved.paths(stateName);
    const template = path.join(paths.dir, 'overlay.qcow2');
    if (!existsSync(template)) {
      let making = this.overlayTemplates.get(stateName);
      if (!making) {
        making = (async () => {
          const staged = `${template}.${randomBytes(6).toString('hex')}.tmp`;
          try {
            await this.img.createOverlay(staged, paths.disk, 'qcow2');
            renameSync(staged, template);
          } finally {
            rmSync(staged, { force: true });
          }
        })();
        this.overlayTemplates.set(stateName, making);
        void making.then(
          () => this.overlayTemplates.delete(stateName),
          () => this.overlayTemplates.delete(stateName),
        );
      }
      await making;
    }
    copyFileSync(template, target);
  }

  private async state(name: string): Promise<VmState> {
    const pid = this.store.pid(name);
    if (pid === undefined || !alive(pid)) return 'stopped';
    try {
      const status = await this.qmp(name, (q) => q.execute<{ status: string }>('query-status'), 2000);
      if (status.status === 'running') return 'running';
      if (['paused', 'suspended', 'prelaunch', 'inmigrate', 'restore-vm', 'save-vm', 'finish-migrate'].includes(status.status))
        return 'paused';
      if (status.status === 'shutdown' || status.status === 'guest-panicked') return 'stopped';
      return 'error';
    } catch {
      return 'error';
    }
  }

  private async qmp<T>(name: string, use: (client: QmpClient) => Promise<T>, timeoutMs = 5000): Promise<T> {
    const client = await QmpClient.connect(this.store.paths(name).qmpSocket, timeoutMs);
    try {
      return await use(client);
    } finally {
      client.close();
    }
  }

  /** The agent socket of a VM created with the guest channel. */
  private guestAgentSocket(name: string): string {
    const stored = this.require(name);
    if (stored.spec.guestAgent === false)
      throw unsupported('qemu', `the guest channel on VM ${name}, created without it (guestAgent: false)`);
    return this.store.paths(name).guestAgentSocket;
  }

  private async requireGuestChannel(name: string): Promise<void> {
    const state = await this.requireRunning(name);
    if (state !== 'running') throw new HypervisorError('invalid_state', `VM ${name} is ${state}: its guest agent cannot answer`);
  }

  private async requireRunning(name: string): Promise<VmState> {
    this.require(name);
    const state = await this.state(name);
    if (state !== 'running' && state !== 'paused') throw new HypervisorError('invalid_state', `VM ${name} is ${state}`);
    return state;
  }

  private async detachNics(name: string, stored: StoredVm): Promise<void> {
    for (const [i, nic] of stored.spec.nics.entries()) await this.options.network.detachNic(nic.network, name, i).catch(() => {});
  }

  /** Connects to the agent socket of every running VM with the guest channel (a driver started anew: their agents poll while nobody is connected). */
  private async keepGuestChannels(): Promise<void> {
    for (const name of this.store.names()) {
      const stored = this.store.read(name);
      const pid = this.store.pid(name);
      if (stored && stored.spec.guestAgent !== false && pid !== undefined && alive(pid))
        await this.guest.keep(this.store.paths(name).guestAgentSocket);
    }
  }

  /** Drops the VM's kept guest agent connection: its guest or its QEMU is about to change under it. */
  private forgetGuest(name: string): void {
    this.guest.forget(this.store.paths(name).guestAgentSocket);
  }

  private closeHub(name: string): void {
    const hub = this.hubs.get(name);
    this.hubs.delete(name);
    hub?.then((h) => h.close()).catch(() => {});
  }

  private info(name: string, stored: StoredVm, state: VmState): VmInfo {
    return {
      name,
      state,
      cpus: stored.spec.cpus,
      memoryMiB: stored.spec.memoryMiB,
      nics: stored.spec.nics.map((nic, i) => ({ network: nic.network, mac: stored.macs[i]! })),
      consoles: ['serial', 'vnc'],
    };
  }

  private require(name: string): StoredVm {
    this.checkName(name);
    const stored = this.store.read(name);
    if (!stored) throw new HypervisorError('not_found', `VM ${name} does not exist`);
    return stored;
  }

  private checkName(name: string): void {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid name "${name}"`);
  }
}

/** A spec without `saveable`: a VM restored from a saved state is not itself to be saved. */
function withoutSaveable(spec: VmSpec): VmSpec {
  const { saveable: _, ...rest } = spec;
  return rest;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}
