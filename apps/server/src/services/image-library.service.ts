import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Image, ImageList, ListImagesQuery, UpdateImageBody, UploadImageQuery } from '@ctp/contracts';
import { HypervisorError, type BaseImage } from '@ctp/hypervisor';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { authorize, type Actor } from '../policy/policy.js';
import { presentBuiltinImage, presentImage } from '../presenters/staff.presenter.js';
import type { ImageRow, ImagesRepository, NewImage } from '../repositories/images.repository.js';
import type { BuiltinImages, ConfigMethod, ImageCatalog, ResolvedImage } from './image-catalog.js';
import { ImageImporter, STORED_NAMES, type ImportPlan } from './image-importer.js';

/** Files of a stored image, relative to its folder. */
export interface ImageFiles {
  disk?: string;
  iso?: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
}

const insufficientStorage = (message: string) => new AppError(507, 'image_quota_exceeded', message);

/**
 * The image library: uploads (streamed to disk, checked, converted to a standalone qcow2 by a
 * background job), metadata, usage and quota, and what templates may name (built-in demo images
 * and the library's ready images). Stored files are read-only; VMs only get overlays on them.
 */
export class ImageLibraryService implements ImageCatalog {
  private readonly importer: ImageImporter;
  /** Conversions under way in this process, so tests and shutdown can wait for them. */
  readonly conversions = new Map<string, Promise<void>>();

  constructor(
    private readonly images: ImagesRepository,
    private readonly builtins: BuiltinImages,
    private readonly root: string,
    private readonly quotaBytes: number,
  ) {
    mkdirSync(path.join(root, '.incoming'), { recursive: true });
    this.importer = new ImageImporter();
  }

  async resolve(name: string): Promise<ResolvedImage | undefined> {
    const builtin = this.builtins.get(name);
    if (builtin) return builtin;
    const row = await this.images.findByName(name);
    if (!row || row.status !== 'ready') return undefined;
    return {
      base: this.baseImage(row),
      configMethod: row.configMethod as ConfigMethod,
      defaultUser: row.defaultUser,
      firmware: row.firmware as 'bios' | 'uefi',
    };
  }

  async names(): Promise<string[]> {
    return [...new Set([...this.builtins.list().map((b) => b.name), ...(await this.images.names())])].sort();
  }

  /** The folder of an image's stored files. */
  folderOf(id: string): string {
    return path.join(this.root, id);
  }

  async list(actor: Actor, query: ListImagesQuery): Promise<ImageList> {
    authorize(actor, 'image.list');
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const search = query.search?.toLowerCase();
    const builtins = this.builtins.list().filter((b) => !search || b.name.includes(search));
    const { rows } = await this.images.list({ limit: 10_000, offset: 0, search: query.search });
    const all = [
      ...builtins.map((b) => ({ name: b.name, present: async () => presentBuiltinImage(b, await this.images.usage(b.name)) })),
      ...rows.map((r) => ({ name: r.name, present: async () => presentImage(r, await this.images.usage(r.name)) })),
    ].sort((a, b) => a.name.localeCompare(b.name));
    const items = await Promise.all(all.slice(offset, offset + limit).map((entry) => entry.present()));
    return { items, total: all.length, limit, offset, usage: { usedBytes: await this.images.usedBytes(), quotaBytes: this.quotaBytes } };
  }

  async get(actor: Actor, id: string): Promise<Image> {
    authorize(actor, 'image.list');
    const builtin = this.builtins.list().find((b) => b.id === id);
    if (builtin) return presentBuiltinImage(builtin, await this.images.usage(builtin.name));
    const row = await this.images.findById(id);
    if (!row) throw notFound('Image');
    return presentImage(row, await this.images.usage(row.name));
  }

  /**
   * Takes an upload: streams the body to a private file (hashing and counting as it goes, never
   * past the quota), verifies the checksum, inspects the file as untrusted, and either stores it
   * at once (`accepted: false` → 201) or starts a conversion job (`accepted: true` → 202). Any
   * failure, an interrupted upload included, leaves neither a file nor a record.
   */
  async upload(actor: Actor, query: UploadImageQuery, body: unknown, declaredBytes?: number): Promise<{ image: Image; accepted: boolean }> {
    authorize(actor, 'image.create');
    if (!(body instanceof Readable))
      throw new AppError(415, 'unsupported_media_type', 'Send the image file as the raw body with Content-Type: application/octet-stream');
    await this.checkNameFree(query.name);
    const used = await this.images.usedBytes();
    if (declaredBytes !== undefined && used + declaredBytes > this.quotaBytes) throw this.quotaError(used, declaredBytes);
    const id = randomUUID();
    const incoming = path.join(this.root, '.incoming', id);
    mkdirSync(incoming, { recursive: true, mode: 0o700 });
    try {
      const { file, bytes, sha256 } = await this.receive(body, incoming, this.quotaBytes - used);
      if (declaredBytes !== undefined && bytes !== declaredBytes)
        throw badRequest(`The upload ended after ${bytes} of ${declaredBytes} bytes`);
      if (bytes === 0) throw badRequest('The upload is empty');
      if (query.sha256 && query.sha256.toLowerCase() !== sha256)
        throw new AppError(400, 'checksum_mismatch', `The file's sha256 is ${sha256}, not the expected ${query.sha256.toLowerCase()}`);
      const plan = await this.importer.plan(file, query.format, incoming).catch(rethrowInvalid);
      const folder = this.folderOf(id);
      const row = await this.insertRow(id, actor, query, plan, sha256, bytes);
      if (!plan.convert) {
        this.store(incoming, folder, plan.files);
        const sealed = await this.images.update(id, { status: 'ready', progress: 100, sizeBytes: folderSize(folder) });
        return { image: presentImage(sealed!, emptyUsage), accepted: false };
      }
      this.conversions.set(id, this.convert(row, incoming, plan));
      return { image: presentImage(row, emptyUsage), accepted: true };
    } catch (error) {
      rmSync(incoming, { recursive: true, force: true });
      throw error;
    }
  }

  async update(actor: Actor, id: string, changes: UpdateImageBody): Promise<Image> {
    authorize(actor, 'image.update');
    if (this.builtins.list().some((b) => b.id === id)) throw conflict('Built-in demo images are read-only');
    const row = await this.images.findById(id);
    if (!row) throw notFound('Image');
    if (changes.name && changes.name !== row.name) {
      const usage = await this.images.usage(row.name);
      if (usage.templates.length || usage.labs)
        throw conflict(`Image ${row.name} is in use (${describeUsage(usage)}): it cannot be renamed`);
      await this.checkNameFree(changes.name);
    }
    const updated = await this.images.update(id, changes);
    return presentImage(updated!, await this.images.usage(updated!.name));
  }

  /** Deletes an image and its files, unless a template version or a lab uses it (409). */
  async remove(actor: Actor, id: string): Promise<ImageRow> {
    authorize(actor, 'image.delete');
    if (this.builtins.list().some((b) => b.id === id)) throw conflict('Built-in demo images cannot be deleted');
    const row = await this.images.findById(id);
    if (!row) throw notFound('Image');
    if (row.status === 'converting') throw conflict(`Image ${row.name} is still being converted`);
    const usage = await this.images.usage(row.name);
    if (usage.templates.length || usage.labs) throw conflict(`Image ${row.name} is in use (${describeUsage(usage)})`);
    await this.images.remove(id);
    rmSync(this.folderOf(id), { recursive: true, force: true });
    return row;
  }

  /** At start: conversions a previous process did not finish are marked failed, their files removed. */
  async recoverInterrupted(): Promise<void> {
    const { rows } = await this.images.list({ limit: 10_000, offset: 0 });
    for (const row of rows.filter((r) => r.status === 'converting' && !this.conversions.has(r.id))) {
      await this.images.update(row.id, { status: 'failed', error: 'the conversion was interrupted by a restart: upload again' });
      rmSync(this.folderOf(row.id), { recursive: true, force: true });
    }
    for (const leftover of readdirSync(path.join(this.root, '.incoming'))) {
      if (!this.conversions.has(leftover)) rmSync(path.join(this.root, '.incoming', leftover), { recursive: true, force: true });
    }
  }

  /** Registers a file made on this host (a saved VM disk) as a new image, converting it in the background. */
  async registerDisk(
    actor: Actor,
    input: { name: string; notes?: string; from: ResolvedImage; produce: (target: string, progress: (p: number) => void) => Promise<void> },
  ): Promise<Image> {
    authorize(actor, 'image.create');
    await this.checkNameFree(input.name);
    const id = randomUUID();
    const row = await this.images.insert({
      id,
      name: input.name,
      kind: 'disk',
      sourceFormat: 'qcow2',
      status: 'converting',
      configMethod: input.from.configMethod,
      defaultUser: input.from.defaultUser,
      firmware: input.from.firmware,
      notes: input.notes ?? '',
      files: { disk: 'disk.qcow2', ...bootFilesOf(input.from.base) },
      createdBy: actor.id,
    });
    const job = (async () => {
      const folder = this.folderOf(id);
      try {
        mkdirSync(folder, { recursive: true });
        await input.produce(path.join(folder, 'disk.qcow2'), (progress) => void this.images.update(id, { progress }).catch(() => {}));
        for (const file of readdirSync(folder)) chmodSync(path.join(folder, file), 0o444);
        await this.images.update(id, { status: 'ready', progress: 100, sizeBytes: folderSize(folder) });
      } catch (error) {
        rmSync(folder, { recursive: true, force: true });
        await this.images.update(id, { status: 'failed', error: (error as Error).message });
      } finally {
        this.conversions.delete(id);
      }
    })();
    this.conversions.set(id, job);
    return presentImage(row, emptyUsage);
  }

  private baseImage(row: ImageRow): BaseImage {
    const files = row.files as ImageFiles;
    const folder = this.folderOf(row.id);
    const at = (file: string) => path.resolve(folder, file);
    if (row.kind === 'kernel')
      return { kind: 'kernel', kernel: at(files.kernel!), initrd: at(files.initrd!), cmdline: files.cmdline ?? '' };
    if (row.kind === 'iso') return { kind: 'iso', path: at(files.iso!), firmware: row.firmware as 'bios' | 'uefi' };
    return {
      kind: 'disk',
      path: at(files.disk!),
      format: 'qcow2',
      firmware: row.firmware as 'bios' | 'uefi',
      ...(files.kernel && files.initrd
        ? { boot: { kernel: at(files.kernel), initrd: at(files.initrd), cmdline: files.cmdline ?? '' } }
        : {}),
    };
  }

  private async checkNameFree(name: string): Promise<void> {
    if (this.builtins.get(name) || (await this.images.findByName(name))) throw conflict(`An image named ${name} exists already`);
  }

  private quotaError(used: number, more: number): AppError {
    return insufficientStorage(
      `The image library is full: ${used} of ${this.quotaBytes} bytes used, and this upload needs ${more} more (CTP_IMAGE_QUOTA_MIB)`,
    );
  }

  /** Streams the body to `incoming/upload`, hashing and counting; refuses to grow past `room` bytes. */
  private async receive(body: Readable, incoming: string, room: number): Promise<{ file: string; bytes: number; sha256: string }> {
    const file = path.join(incoming, 'upload');
    const hash = createHash('sha256');
    let bytes = 0;
    const quotaError = () => this.quotaError(this.quotaBytes - room, bytes);
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > room) return callback(quotaError());
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(body, meter, createWriteStream(file, { flags: 'wx', mode: 0o600 })).catch((error: unknown) => {
      if (error instanceof AppError) throw error;
      throw badRequest(`The upload was interrupted after ${bytes} bytes`);
    });
    return { file, bytes, sha256: hash.digest('hex') };
  }

  private async insertRow(
    id: string,
    actor: Actor,
    query: UploadImageQuery,
    plan: ImportPlan,
    sha256: string,
    bytes: number,
  ): Promise<ImageRow> {
    const values: NewImage = {
      id,
      name: query.name,
      kind: plan.kind,
      sourceFormat: query.format,
      status: 'converting',
      osFamily: query.osFamily ?? 'other',
      firmware: query.firmware ?? 'bios',
      defaultCpus: query.defaultCpus ?? plan.defaults?.cpus ?? 1,
      defaultMemoryMiB: query.defaultMemoryMiB ?? plan.defaults?.memoryMiB ?? 512,
      defaultNics: plan.defaults?.nics ?? null,
      configMethod: query.configMethod ?? (plan.kind === 'disk' ? 'cloud-init' : 'none'),
      defaultUser: query.defaultUser ?? null,
      notes: query.notes ?? '',
      files: storedFiles(plan.files, plan.kind === 'kernel' ? (query.cmdline ?? 'console=ttyS0') : undefined),
      sizeBytes: bytes,
      virtualSizeBytes: plan.virtualSizeBytes ?? null,
      sha256,
      createdBy: actor.id,
    };
    try {
      return await this.images.insert(values);
    } catch (error) {
      if (
        (error as { code?: string; cause?: { code?: string } }).code === '23505' ||
        (error as { cause?: { code?: string } }).cause?.code === '23505'
      )
        throw conflict(`An image named ${query.name} exists already`);
      throw error;
    }
  }

  /** Moves checked files from the incoming folder into the image's folder, read-only. */
  private store(incoming: string, folder: string, files: ImageFiles): void {
    mkdirSync(folder, { recursive: true });
    for (const [key, name] of Object.entries(files) as [keyof typeof STORED_NAMES, string][]) {
      if (!(key in STORED_NAMES) || !name) continue;
      const target = path.join(folder, STORED_NAMES[key]);
      renameSync(path.join(incoming, name), target);
      chmodSync(target, 0o444);
    }
    rmSync(incoming, { recursive: true, force: true });
  }

  /** The conversion job: qemu-img convert into the image's folder, with progress in the record. */
  private async convert(row: ImageRow, incoming: string, plan: ImportPlan): Promise<void> {
    const folder = this.folderOf(row.id);
    try {
      mkdirSync(folder, { recursive: true });
      let last = 0;
      await this.importer.convert(plan, path.join(folder, 'disk.qcow2'), (progress) => {
        if (progress - last < 5 && progress < 100) return;
        last = progress;
        void this.images.update(row.id, { progress }).catch(() => {});
      });
      chmodSync(path.join(folder, 'disk.qcow2'), 0o444);
      await this.images.update(row.id, { status: 'ready', progress: 100, sizeBytes: folderSize(folder) });
    } catch (error) {
      rmSync(folder, { recursive: true, force: true });
      await this.images.update(row.id, { status: 'failed', error: (error as Error).message }).catch(() => {});
    } finally {
      rmSync(incoming, { recursive: true, force: true });
      this.conversions.delete(row.id);
    }
  }
}

/** A saved disk boots with the kernel its base was booted with (absolute paths, kept as they are). */
function bootFilesOf(base: BaseImage): ImageFiles {
  return base.kind === 'disk' && base.boot ? { kernel: base.boot.kernel, initrd: base.boot.initrd, cmdline: base.boot.cmdline } : {};
}

/** The files record of a stored image: the stored names of the planned files. */
function storedFiles(files: ImageFiles, cmdline?: string): ImageFiles {
  const stored: ImageFiles = {};
  for (const key of Object.keys(STORED_NAMES) as (keyof typeof STORED_NAMES)[]) if (files[key]) stored[key] = STORED_NAMES[key];
  return cmdline === undefined ? stored : { ...stored, cmdline };
}

const emptyUsage = { templates: [], labs: 0 };

function describeUsage(usage: { templates: { title: string }[]; labs: number }): string {
  const parts = [];
  if (usage.templates.length) parts.push(`templates: ${usage.templates.map((t) => t.title).join(', ')}`);
  if (usage.labs) parts.push(`${usage.labs} lab${usage.labs > 1 ? 's' : ''}`);
  return parts.join('; ');
}

function folderSize(folder: string): number {
  return readdirSync(folder).reduce((total, file) => total + statSync(path.join(folder, file)).size, 0);
}

function rethrowInvalid(error: unknown): never {
  if (error instanceof HypervisorError && error.code === 'invalid') throw new AppError(400, 'invalid_image', error.message);
  throw error;
}
