import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { VmSpec } from '../driver.js';

/** What the driver keeps about a VM between calls (and across restarts of the API). */
export interface StoredVm {
  spec: VmSpec;
  /** One MAC per NIC, fixed at creation. */
  macs: string[];
  /** The saved state the VM was created from (its disk's backing layer). */
  savedState?: string;
  /** The next start resumes the saved state (the disk has not been booted from since). */
  restorePending?: boolean;
  /** Disk snapshots taken while `restorePending`: reverting to one makes it pending again. */
  restorableSnapshots?: string[];
}

/** The files of one VM inside its directory. */
export interface VmPaths {
  dir: string;
  spec: string;
  disk: string;
  /** The cloud-init NoCloud seed (a small ISO labelled `cidata`), when the spec has one. */
  seed: string;
  qmpSocket: string;
  serialSocket: string;
  serialLog: string;
  vncSocket: string;
  /** The private guest channel: QEMU serves the guest agent's virtio-serial port here. */
  guestAgentSocket: string;
  pidFile: string;
}

/** Files that belong to one run of QEMU: removed before a start and after a stop. */
const RUN_FILES = ['qmpSocket', 'serialSocket', 'vncSocket', 'guestAgentSocket', 'pidFile'] as const;

/**
 * The QEMU driver's on-disk state: one directory per VM under `stateDir` holding its spec, its
 * overlay, its sockets, pidfile and serial log. Everything is on disk, so a new driver object
 * (after an API restart) finds running VMs again. Names are checked by the driver before use.
 */
export class VmStateStore {
  constructor(readonly stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
  }

  /** The paths of a VM's files (whether they exist or not). */
  paths(name: string): VmPaths {
    const dir = path.join(this.stateDir, name);
    const f = (file: string) => path.join(dir, file);
    return {
      dir,
      spec: f('spec.json'),
      disk: f('disk.qcow2'),
      seed: f('seed.iso'),
      qmpSocket: f('qmp.sock'),
      serialSocket: f('serial.sock'),
      serialLog: f('serial.log'),
      vncSocket: f('vnc.sock'),
      guestAgentSocket: f('qga.sock'),
      pidFile: f('qemu.pid'),
    };
  }

  /** Names of the VMs that have a stored spec. */
  names(): string[] {
    if (!existsSync(this.stateDir)) return [];
    return readdirSync(this.stateDir).filter((name) => existsSync(this.paths(name).spec));
  }

  exists(name: string): boolean {
    return existsSync(this.paths(name).dir);
  }

  /** Creates the VM's directory (before its overlay is made). */
  makeDir(name: string): void {
    mkdirSync(this.paths(name).dir, { recursive: true });
  }

  read(name: string): StoredVm | undefined {
    try {
      return JSON.parse(readFileSync(this.paths(name).spec, 'utf8')) as StoredVm;
    } catch {
      return undefined;
    }
  }

  write(name: string, stored: StoredVm): void {
    writeFileSync(this.paths(name).spec, JSON.stringify(stored, null, 2));
  }

  /** Removes the VM's directory and everything in it. */
  remove(name: string): void {
    rmSync(this.paths(name).dir, { recursive: true, force: true });
  }

  /** The pid QEMU wrote at its last start, if any. */
  pid(name: string): number | undefined {
    try {
      const pid = Number(readFileSync(this.paths(name).pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Removes the sockets and pidfile of the last run. */
  removeRunFiles(name: string): void {
    const paths = this.paths(name);
    for (const key of RUN_FILES) {
      try {
        unlinkSync(paths[key]);
      } catch {
        // not there
      }
    }
  }

  /** Empties the serial log: a new boot starts a new console history. */
  resetSerialLog(name: string): void {
    writeFileSync(this.paths(name).serialLog, '');
  }
}
