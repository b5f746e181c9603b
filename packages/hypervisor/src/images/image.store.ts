import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand, type CommandRunner } from '../command-runner.js';
import { isValidName, type BaseImage } from '../driver.js';
import { HypervisorError } from '../errors.js';

export type ImageFormat = 'qcow2' | 'raw' | 'vmdk' | 'vdi' | 'ova';

export interface StoredImage {
  name: string;
  kind: 'disk' | 'kernel' | 'appliance';
  /** The stored format (disks are kept as qcow2 for QEMU; OVA as is for VirtualBox). */
  format: ImageFormat | 'kernel';
  /** The format the source came in. */
  sourceFormat: ImageFormat | 'kernel';
  files: { path: string; bytes: number; sha256: string }[];
  virtualSizeBytes?: number;
  cmdline?: string;
  importedAt: string;
}

/** sha256 of a file, streamed. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/**
 * The base-image store: imports disks (qcow2, raw, vmdk, vdi — converted to qcow2 with
 * `qemu-img`), OVA appliances (kept as they are, for VirtualBox) and kernel images (kernel +
 * initrd + command line), records format, size and sha256 in `images.json`, and makes every
 * stored file read-only: a base is never modified, VMs only ever get overlays on it.
 */
export class ImageStore {
  private readonly manifest: string;
  private readonly run: CommandRunner;

  constructor(
    private readonly root: string,
    runner?: CommandRunner,
  ) {
    mkdirSync(root, { recursive: true });
    this.manifest = path.join(root, 'images.json');
    this.run = runner ?? runCommand;
  }

  list(): StoredImage[] {
    return Object.values(this.read()).sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): StoredImage | undefined {
    return this.read()[name];
  }

  /** What a driver boots for a stored image. */
  baseImage(name: string): BaseImage | undefined {
    const image = this.get(name);
    if (!image) return undefined;
    if (image.kind === 'kernel') return { kind: 'kernel', kernel: image.files[0]!.path, initrd: image.files[1]!.path, cmdline: image.cmdline ?? '' };
    if (image.kind === 'appliance') return { kind: 'appliance', path: image.files[0]!.path };
    return { kind: 'disk', path: image.files[0]!.path, format: 'qcow2' };
  }

  /** Imports a disk image or an OVA under `name`. */
  async importImage(input: { name: string; sourcePath: string }): Promise<StoredImage> {
    this.checkNew(input.name);
    if (!existsSync(input.sourcePath) || !statSync(input.sourcePath).isFile()) throw new HypervisorError('invalid', `${input.sourcePath} is not a file`);
    const dir = path.join(this.root, input.name);
    mkdirSync(dir);
    try {
      const image = input.sourcePath.toLowerCase().endsWith('.ova') ? await this.importOva(input.name, input.sourcePath, dir) : await this.importDisk(input.name, input.sourcePath, dir);
      this.save(image);
      return image;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Registers a direct-kernel-boot image (QEMU): kernel, initramfs and command line. */
  async importKernel(input: { name: string; kernel: string; initrd: string; cmdline: string }): Promise<StoredImage> {
    this.checkNew(input.name);
    for (const file of [input.kernel, input.initrd]) if (!existsSync(file)) throw new HypervisorError('invalid', `${file} does not exist`);
    const dir = path.join(this.root, input.name);
    mkdirSync(dir);
    try {
      const files = [];
      for (const [source, target] of [
        [input.kernel, 'vmlinuz'],
        [input.initrd, 'initrd'],
      ] as const) {
        const stored = path.join(dir, target);
        copyFileSync(source, stored);
        files.push(await this.seal(stored));
      }
      const image: StoredImage = { name: input.name, kind: 'kernel', format: 'kernel', sourceFormat: 'kernel', files, cmdline: input.cmdline, importedAt: new Date().toISOString() };
      this.save(image);
      return image;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Removes an image and its files. */
  remove(name: string): void {
    const images = this.read();
    if (!images[name]) return;
    rmSync(path.join(this.root, name), { recursive: true, force: true });
    delete images[name];
    this.write(images);
  }

  private async importDisk(name: string, source: string, dir: string): Promise<StoredImage> {
    const info = await this.run(['qemu-img', 'info', '--output=json', source]).catch((error: unknown) => {
      throw new HypervisorError('invalid', `${path.basename(source)} is not a disk image qemu-img can read`, { cause: error });
    });
    const { format, 'virtual-size': virtualSize } = JSON.parse(info.stdout) as { format: string; 'virtual-size': number };
    if (!['qcow2', 'raw', 'vmdk', 'vdi'].includes(format)) throw new HypervisorError('invalid', `unsupported disk format ${format}`);
    if (!virtualSize) throw new HypervisorError('invalid', `${path.basename(source)} is empty: a disk image has a size`);
    const stored = path.join(dir, 'disk.qcow2');
    // Always a fresh, self-contained qcow2: no backing file of the source leaks in.
    await this.run(['qemu-img', 'convert', '-O', 'qcow2', '-f', format, source, stored], { timeoutMs: 3_600_000 });
    return {
      name,
      kind: 'disk',
      format: 'qcow2',
      sourceFormat: format as ImageFormat,
      files: [await this.seal(stored)],
      virtualSizeBytes: virtualSize,
      importedAt: new Date().toISOString(),
    };
  }

  private async importOva(name: string, source: string, dir: string): Promise<StoredImage> {
    // An OVA is a tar archive whose first member is the .ovf descriptor.
    const listing = await this.run(['tar', '-tf', source]).catch((error: unknown) => {
      throw new HypervisorError('invalid', `${path.basename(source)} is not an OVA (not a tar archive)`, { cause: error });
    });
    if (!listing.stdout.split('\n').some((member) => member.toLowerCase().endsWith('.ovf'))) {
      throw new HypervisorError('invalid', `${path.basename(source)} is not an OVA: it holds no .ovf descriptor`);
    }
    const stored = path.join(dir, 'appliance.ova');
    copyFileSync(source, stored);
    return { name, kind: 'appliance', format: 'ova', sourceFormat: 'ova', files: [await this.seal(stored)], importedAt: new Date().toISOString() };
  }

  /** Makes a stored file read-only and records its size and checksum. */
  private async seal(file: string): Promise<{ path: string; bytes: number; sha256: string }> {
    chmodSync(file, 0o444);
    return { path: file, bytes: statSync(file).size, sha256: await sha256File(file) };
  }

  private checkNew(name: string): void {
    if (!isValidName(name)) throw new HypervisorError('invalid', `invalid image name "${name}"`);
    if (this.read()[name] || existsSync(path.join(this.root, name))) throw new HypervisorError('conflict', `image ${name} exists already`);
  }

  private save(image: StoredImage): void {
    this.write({ ...this.read(), [image.name]: image });
  }

  private read(): Record<string, StoredImage> {
    try {
      return JSON.parse(readFileSync(this.manifest, 'utf8')) as Record<string, StoredImage>;
    } catch {
      return {};
    }
  }

  private write(images: Record<string, StoredImage>): void {
    writeFileSync(`${this.manifest}.tmp`, JSON.stringify(images, null, 2));
    renameSync(`${this.manifest}.tmp`, this.manifest);
  }
}
