import type { CommandRunner } from '../command-runner.js';

const QEMU_IMG_TIMEOUT = 60_000;

/** An internal snapshot of a qcow2 file, as `qemu-img info` reports it. */
export interface QcowSnapshot {
  name: string;
  createdAt: Date;
  /** Size of the RAM/CPU state saved with it; 0 for a disk-only snapshot. */
  vmStateSize: number;
}

/** The `qemu-img` calls the QEMU driver makes, each with its exact argv. */
export class QemuImg {
  constructor(private readonly run: CommandRunner) {}

  /** A qcow2 overlay on a read-only backing file: the base is only read, the overlay takes the writes. */
  async createOverlay(overlay: string, backing: string, backingFormat: string): Promise<void> {
    await this.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, overlay], {
      timeoutMs: QEMU_IMG_TIMEOUT,
    });
  }

  /** An empty qcow2 disk of `sizeMiB`. */
  async createBlank(file: string, sizeMiB: number): Promise<void> {
    await this.run(['qemu-img', 'create', '-q', '-f', 'qcow2', file, `${sizeMiB}M`], { timeoutMs: QEMU_IMG_TIMEOUT });
  }

  /** The internal snapshots of a qcow2 file, oldest first (readable while QEMU has the file open). */
  async snapshots(file: string): Promise<QcowSnapshot[]> {
    const { stdout } = await this.run(['qemu-img', 'info', '--output=json', '--force-share', file], { timeoutMs: QEMU_IMG_TIMEOUT });
    const info = JSON.parse(stdout) as { snapshots?: { name: string; 'date-sec': number; 'vm-state-size': number }[] };
    return (info.snapshots ?? [])
      .map((s) => ({ name: s.name, createdAt: new Date(s['date-sec'] * 1000), vmStateSize: s['vm-state-size'] }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /** Takes a disk-only internal snapshot (the VM must not be running). */
  async createSnapshot(file: string, name: string): Promise<void> {
    await this.run(['qemu-img', 'snapshot', '-c', name, file], { timeoutMs: QEMU_IMG_TIMEOUT });
  }

  /** Returns the disk to an internal snapshot (the VM must not be running). */
  async applySnapshot(file: string, name: string): Promise<void> {
    await this.run(['qemu-img', 'snapshot', '-a', name, file], { timeoutMs: QEMU_IMG_TIMEOUT });
  }

  async deleteSnapshot(file: string, name: string): Promise<void> {
    await this.run(['qemu-img', 'snapshot', '-d', name, file], { timeoutMs: QEMU_IMG_TIMEOUT });
  }
}
