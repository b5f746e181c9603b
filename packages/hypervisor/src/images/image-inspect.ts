import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { runCommand, type CommandRunner } from '../command-runner.js';
import { HypervisorError } from '../errors.js';

/** Disk formats an upload may declare; all are stored as a standalone qcow2. */
export const DISK_FORMATS = ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** The largest virtual disk accepted (2 TiB): bigger is a mistake or an attack on the host's disk. */
export const MAX_VIRTUAL_SIZE = 2 * 1024 ** 4;

export interface DiskInspection {
  format: DiskFormat;
  virtualSizeBytes: number;
}

function readHead(file: string, bytes: number, offset = 0): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const read = readSync(fd, buffer, 0, bytes, offset);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

const refuse = (message: string) => new HypervisorError('invalid', message);

/**
 * Checks a qcow2 header before any qemu tool opens the file: a backing file or an external data
 * file would make QEMU open another path of the host (e.g. `/etc/shadow`) on the uploader's behalf.
 */
function checkQcow2Header(head: Buffer): void {
  if (head.length < 72) throw refuse('the qcow2 header is truncated');
  const backingOffset = head.readBigUInt64BE(8);
  if (backingOffset !== 0n) throw refuse('the image has a backing file: upload a standalone image (qemu-img convert -O qcow2)');
  const version = head.readUInt32BE(4);
  // Version 3 headers carry feature bits; bit 2 of the incompatible ones is "external data file".
  if (version >= 3 && head.length >= 80 && (head.readBigUInt64BE(72) & 4n) !== 0n)
    throw refuse('the image has an external data file: upload a standalone image');
}

/** True when the file carries an ISO 9660 volume descriptor. */
export function isIso9660(file: string): boolean {
  return readHead(file, 5, 0x8001).toString('latin1') === 'CD001';
}

/**
 * Inspects an untrusted disk image: its header first (no backing or data file), then
 * `qemu-img info --output=json` without `--backing-chain` (so nothing else is ever opened), and
 * refuses a backing or data file, a VMDK extent elsewhere, a format other than the declared one
 * and an absurd virtual size.
 */
export async function inspectDiskImage(file: string, declared: DiskFormat, run: CommandRunner = runCommand): Promise<DiskInspection> {
  const head = readHead(file, 512);
  if (head.subarray(0, 4).toString('latin1') === 'QFI\xfb') checkQcow2Header(head);
  if (head.subarray(0, 21).toString('latin1') === '# Disk DescriptorFile')
    throw refuse('a VMDK descriptor file refers to other files: upload a monolithic VMDK');
  const result = await run(['qemu-img', 'info', '--output=json', file], { cwd: path.dirname(file), timeoutMs: 60_000 }).catch(
    (error: unknown) => {
      throw new HypervisorError('invalid', 'the file is not a disk image qemu-img can read', { cause: error });
    },
  );
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw refuse('qemu-img info gave no readable answer for the file');
  }
  if (info['backing-filename'] || info['full-backing-filename'] || info['backing-filename-format'])
    throw refuse('the image has a backing file: upload a standalone image (qemu-img convert -O qcow2)');
  const specific = (info['format-specific'] as { type?: string; data?: Record<string, unknown> } | undefined)?.data ?? {};
  if (specific['data-file']) throw refuse('the image has an external data file: upload a standalone image');
  const extents = (specific.extents as { filename?: string }[] | undefined) ?? [];
  if (extents.some((extent) => extent.filename && path.resolve(path.dirname(file), extent.filename) !== path.resolve(file)))
    throw refuse('the VMDK refers to extent files outside itself: upload a monolithic VMDK');
  const format = String(info.format);
  if (format !== declared) throw refuse(`the file is ${DISK_FORMATS.includes(format as DiskFormat) ? format : `"${format}"`}, not ${declared}`);
  const virtualSizeBytes = Number(info['virtual-size']);
  if (!Number.isSafeInteger(virtualSizeBytes) || virtualSizeBytes <= 0) throw refuse('the image reports no virtual size');
  if (virtualSizeBytes > MAX_VIRTUAL_SIZE) throw refuse(`the virtual size ${virtualSizeBytes} bytes is over the limit of ${MAX_VIRTUAL_SIZE}`);
  return { format: declared, virtualSizeBytes };
}

/**
 * Converts an inspected image to a standalone qcow2 with `qemu-img convert -p`, reporting
 * progress (0–100) as qemu-img prints it. The source format is given, never probed again.
 */
export function convertToQcow2(
  source: string,
  format: DiskFormat,
  target: string,
  onProgress: (percent: number) => void = () => {},
): Promise<void> {
  return runConvert(['convert', '-p', '-f', format, '-O', 'qcow2', source, target], onProgress);
}

function runConvert(args: string[], onProgress: (percent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let last = -1;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const match of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) {
        const percent = Math.floor(Number(match[1]));
        if (percent !== last) onProgress((last = percent));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => reject(new HypervisorError('command_failed', `qemu-img: ${error.message}`, { cause: error })));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new HypervisorError('command_failed', `qemu-img convert failed: ${stderr.trim() || `exit ${code}`}`)),
    );
  });
}

/**
 * Writes a VM disk with its whole backing chain (overlay + base) as one standalone qcow2, with
 * progress: the chain is ours (made by the driver), so following it here is intended.
 */
export function flattenDisk(overlay: string, target: string, onProgress: (percent: number) => void = () => {}): Promise<void> {
  return runConvert(['convert', '-p', '-U', '-O', 'qcow2', overlay, target], onProgress);
}
