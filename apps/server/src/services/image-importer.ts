import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ImageFormat } from '@ctp/contracts';
import {
  convertToQcow2,
  extractMember,
  HypervisorError,
  inspectDiskImage,
  isIso9660,
  listTar,
  parseOvf,
  readMember,
  type DiskFormat,
} from '@ctp/hypervisor';
import type { ImageFiles } from './image-library.service.js';

/** What to do with a checked upload: store its files as they are, or convert a disk to qcow2. */
export interface ImportPlan {
  kind: 'disk' | 'iso' | 'kernel';
  /** Files to keep, by their path in the incoming folder (stored under STORED_NAMES). */
  files: ImageFiles;
  virtualSizeBytes?: number;
  /** A disk to convert to a standalone qcow2 (`disk.qcow2`), with its checked format. */
  convert?: { source: string; format: DiskFormat };
  /** Hardware defaults an OVF descriptor gave. */
  defaults?: { cpus?: number; memoryMiB?: number; nics?: number };
}

/** The names stored files get in an image's folder. */
export const STORED_NAMES = { disk: 'disk.qcow2', iso: 'cdrom.iso', kernel: 'vmlinuz', initrd: 'initrd' } as const;

const invalid = (message: string) => new HypervisorError('invalid', message);

const DISK_BY_EXTENSION: Record<string, DiskFormat> = {
  '.vmdk': 'vmdk',
  '.qcow2': 'qcow2',
  '.vdi': 'vdi',
  '.vhdx': 'vhdx',
  '.img': 'raw',
  '.raw': 'raw',
};

/** Checks an uploaded file as untrusted input and plans how it is stored (see `inspectDiskImage`). */
export class ImageImporter {
  async plan(file: string, format: ImageFormat, incoming: string): Promise<ImportPlan> {
    switch (format) {
      case 'qcow2': {
        const { virtualSizeBytes } = await inspectDiskImage(file, 'qcow2');
        // A checked standalone qcow2 is stored as it is: no conversion, answered at once.
        return { kind: 'disk', files: { disk: 'upload' }, virtualSizeBytes };
      }
      case 'raw':
      case 'vmdk':
      case 'vdi':
      case 'vhdx': {
        const { virtualSizeBytes } = await inspectDiskImage(file, format);
        return { kind: 'disk', files: { disk: 'disk.qcow2' }, virtualSizeBytes, convert: { source: file, format } };
      }
      case 'iso':
        if (!isIso9660(file)) throw invalid('the file is not an ISO 9660 image (no CD001 volume descriptor)');
        return { kind: 'iso', files: { iso: 'upload' } };
      case 'kernel':
        return this.planKernel(file, incoming);
      case 'ova':
        return this.planOva(file, incoming);
    }
  }

  /** Runs the planned conversion into `target`. */
  async convert(plan: ImportPlan, target: string, onProgress: (percent: number) => void): Promise<void> {
    if (!plan.convert) return;
    await convertToQcow2(plan.convert.source, plan.convert.format, target, onProgress);
    // What was written is checked too: a standalone qcow2 of the announced size.
    const written = await inspectDiskImage(target, 'qcow2');
    if (plan.virtualSizeBytes && written.virtualSizeBytes < plan.virtualSizeBytes)
      throw invalid('the converted disk is smaller than its source');
  }

  /** A tar holding `vmlinuz` (or `*vmlinuz*`/`*kernel*`) and `initrd` (or `*initrd*`), nothing else. */
  private async planKernel(file: string, incoming: string): Promise<ImportPlan> {
    const members = listTar(file, 4);
    const kernel = members.find((m) => /vmlinuz|kernel|bzimage/i.test(m.name));
    const initrd = members.find((m) => /initrd|initramfs/i.test(m.name));
    if (!kernel || !initrd) throw invalid('format=kernel needs a tar archive holding a kernel (vmlinuz) and an initrd');
    const dir = path.join(incoming, 'x');
    mkdirSync(dir);
    await extractMember(file, kernel, dir);
    await extractMember(file, initrd, dir);
    return { kind: 'kernel', files: { kernel: `x/${kernel.name}`, initrd: `x/${initrd.name}` } };
  }

  /** An OVA: the descriptor read, its first disk extracted, checked and converted; CPUs, memory and NICs kept as defaults. */
  private async planOva(file: string, incoming: string): Promise<ImportPlan> {
    const members = listTar(file);
    const descriptor = members.find((m) => m.name.toLowerCase().endsWith('.ovf'));
    if (!descriptor) throw invalid('the OVA holds no .ovf descriptor');
    const ovf = parseOvf(readMember(file, descriptor));
    const diskName = ovf.disks[0];
    if (!diskName) throw invalid('the OVF descriptor names no disk');
    const disk = members.find((m) => m.name === diskName);
    if (!disk) throw invalid(`the OVA does not hold the disk "${diskName}" its descriptor names`);
    const format = DISK_BY_EXTENSION[path.extname(disk.name).toLowerCase()];
    if (!format) throw invalid(`the OVA's disk "${disk.name}" is not a vmdk, qcow2, vdi, vhdx or raw image`);
    const dir = path.join(incoming, 'ova');
    mkdirSync(dir);
    const extracted = await extractMember(file, disk, dir);
    const { virtualSizeBytes } = await inspectDiskImage(extracted, format);
    return {
      kind: 'disk',
      files: { disk: 'disk.qcow2' },
      virtualSizeBytes,
      convert: { source: extracted, format },
      defaults: { cpus: ovf.cpus, memoryMiB: ovf.memoryMiB, nics: ovf.nics },
    };
  }
}
