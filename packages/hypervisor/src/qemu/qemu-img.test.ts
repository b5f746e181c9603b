import { describe, expect, it } from 'vitest';
import { HypervisorError } from '../errors.js';
import { ScriptedRunner } from '../test-support/scripted-runner.js';
import { QemuImg } from './qemu-img.js';

const disk = '/vms/box/disk.qcow2';

describe('qemu-img helper: exact argv', () => {
  it('creates overlays on a backing file and blank disks', async () => {
    const runner = new ScriptedRunner([
      { argv: ['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', '/images/base.raw', '-F', 'raw', disk] },
      { argv: ['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M'] },
    ]);
    const img = new QemuImg(runner.run);
    await img.createOverlay(disk, '/images/base.raw', 'raw');
    await img.createBlank(disk, 64);
    expect(runner.remaining()).toEqual([]);
  });

  it('creates, applies and deletes internal snapshots', async () => {
    const runner = new ScriptedRunner([
      { argv: ['qemu-img', 'snapshot', '-c', 'clean', disk] },
      { argv: ['qemu-img', 'snapshot', '-a', 'clean', disk] },
      { argv: ['qemu-img', 'snapshot', '-d', 'clean', disk] },
    ]);
    const img = new QemuImg(runner.run);
    await img.createSnapshot(disk, 'clean');
    await img.applySnapshot(disk, 'clean');
    await img.deleteSnapshot(disk, 'clean');
    expect(runner.remaining()).toEqual([]);
  });

  it("lists snapshots oldest first from qemu-img's JSON, with the size of their saved RAM", async () => {
    // The shape of `qemu-img info --output=json` (QEMU 7.2) for a disk with two snapshots.
    const stdout = JSON.stringify({
      'virtual-size': 67108864,
      filename: disk,
      format: 'qcow2',
      snapshots: [
        {
          icount: 0,
          'vm-clock-nsec': 912,
          name: 'later',
          'date-sec': 1764162000,
          'date-nsec': 0,
          'vm-clock-sec': 40,
          id: '2',
          'vm-state-size': 0,
        },
        {
          icount: 0,
          'vm-clock-nsec': 13,
          name: 'clean',
          'date-sec': 1764161000,
          'date-nsec': 0,
          'vm-clock-sec': 4,
          id: '1',
          'vm-state-size': 91234567,
        },
      ],
    });
    const runner = new ScriptedRunner([{ argv: ['qemu-img', 'info', '--output=json', '--force-share', disk], stdout }]);
    expect(await new QemuImg(runner.run).snapshots(disk)).toEqual([
      { name: 'clean', createdAt: new Date(1764161000_000), vmStateSize: 91234567 },
      { name: 'later', createdAt: new Date(1764162000_000), vmStateSize: 0 },
    ]);
  });

  it('reports a disk without snapshots as none, and passes failures on', async () => {
    const runner = new ScriptedRunner([
      { argv: ['qemu-img', 'info', '--output=json', '--force-share', disk], stdout: '{"format":"qcow2"}' },
      {
        argv: ['qemu-img', 'snapshot', '-a', 'nope', disk],
        code: 1,
        stderr: "qemu-img: Could not apply snapshot 'nope': No such file or directory",
      },
    ]);
    const img = new QemuImg(runner.run);
    expect(await img.snapshots(disk)).toEqual([]);
    await expect(img.applySnapshot(disk, 'nope')).rejects.toBeInstanceOf(HypervisorError);
  });
});
