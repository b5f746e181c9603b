import {
  chmodSync,
  copyFileSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { SavedStateInfo, VmSpec } from '../driver.js';

/** What a saved state was made from: a restored VM takes its spec (devices, kernel arguments, MACs) from here. */
export interface SavedStateMeta {
  name: string;
  createdAt: string;
  hypervisorVersion: string;
  machine: string;
  accelerator: 'kvm' | 'tcg';
  spec: VmSpec;
  macs: string[];
  /** Guest RAM is a plain image file (`ram`), left out of the migration stream; restored VMs map it copy-on-write. */
  ramFile?: boolean;
}

/** The files of one saved state. */
export interface SavedStatePaths {
  dir: string;
  /** QEMU's migration stream of the running VM (CPUs, devices, and RAM unless it is in `ram`). */
  memory: string;
  /** Guest RAM as a plain image (states saved from a VM whose RAM was a shared file). */
  ram: string;
  /** The VM's disk at the moment of saving: the read-only layer restored VMs' overlays sit on. */
  disk: string;
  /** What the guest had printed on its serial console: restored VMs' scrollback starts with it. */
  console: string;
  meta: string;
}

/**
 * Saved running states on disk, one directory per state. A state is written into a staging
 * directory and renamed into place, so a half-written state is never seen; its files are
 * read-only afterwards, because restored VMs share them.
 */
export class SavedStateStore {
  constructor(readonly root: string) {}

  paths(name: string, dir = path.join(this.root, name)): SavedStatePaths {
    return {
      dir,
      memory: path.join(dir, 'memory.state'),
      ram: path.join(dir, 'memory.ram'),
      disk: path.join(dir, 'disk.qcow2'),
      console: path.join(dir, 'console.log'),
      meta: path.join(dir, 'meta.json'),
    };
  }

  /** A fresh staging directory for a state being saved. */
  staging(name: string): SavedStatePaths {
    const dir = path.join(this.root, `.${name}.partial`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    return this.paths(name, dir);
  }

  /**
   * Completes a staged state: copies the disk and console log in, moves the RAM image in (if
   * any), writes the metadata, makes it read-only and puts it in place.
   */
  publish(staged: SavedStatePaths, meta: SavedStateMeta, disk: string, consoleLog: string, ramFile?: string): SavedStateInfo {
    // A clone where the file system can (btrfs, xfs), a copy elsewhere.
    copyFileSync(disk, staged.disk, constants.COPYFILE_FICLONE);
    if (ramFile) moveFile(ramFile, staged.ram);
    if (existsSync(consoleLog)) copyFileSync(consoleLog, staged.console);
    else writeFileSync(staged.console, '');
    writeFileSync(staged.meta, JSON.stringify(meta, null, 2));
    for (const file of [staged.memory, staged.disk, staged.console, staged.meta]) chmodSync(file, 0o444);
    // QEMU opens a RAM file read-write even to map it privately (it never writes to it then).
    if (ramFile) chmodSync(staged.ram, 0o644);
    const final = this.paths(meta.name);
    rmSync(final.dir, { recursive: true, force: true });
    renameSync(staged.dir, final.dir);
    return this.info(meta);
  }

  /** The state's metadata, when all its files are there. */
  read(name: string): SavedStateMeta | undefined {
    const paths = this.paths(name);
    if (![paths.memory, paths.disk, paths.meta].every((f) => existsSync(f))) return undefined;
    try {
      const meta = JSON.parse(readFileSync(paths.meta, 'utf8')) as SavedStateMeta;
      return meta.ramFile && !existsSync(paths.ram) ? undefined : meta;
    } catch {
      return undefined;
    }
  }

  list(): SavedStateInfo[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .filter((name) => !name.startsWith('.'))
      .map((name) => this.read(name))
      .filter((meta): meta is SavedStateMeta => meta !== undefined)
      .map((meta) => this.info(meta));
  }

  remove(name: string): void {
    rmSync(this.paths(name).dir, { recursive: true, force: true });
    // The last state gone, nothing is left of the store either.
    if (existsSync(this.root) && readdirSync(this.root).length === 0) rmSync(this.root, { recursive: true, force: true });
  }

  private info(meta: SavedStateMeta): SavedStateInfo {
    const paths = this.paths(meta.name);
    const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
    return {
      name: meta.name,
      createdAt: new Date(meta.createdAt),
      sizeBytes: size(paths.memory) + size(paths.ram) + size(paths.disk),
      hypervisorVersion: meta.hypervisorVersion,
      machine: meta.machine,
    };
  }
}

/** Moves a file (a rename; a copy where the state store is on another file system). */
function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    copyFileSync(from, to);
    rmSync(from, { force: true });
  }
}
