import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore, sha256File } from './image.store.js';

describe('image store (real qemu-img)', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'ctp-images-'));
  const store = new ImageStore(path.join(work, 'store'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Every file under the store with its content's hash: what "writing nothing" compares. */
  const storeFiles = () =>
    readdirSync(path.join(work, 'store'), { recursive: true })
      .map(String)
      .sort()
      .map((f) => {
        const full = path.join(work, 'store', f);
        return statSync(full).isFile() ? `${f} ${createHash('sha256').update(readFileSync(full)).digest('hex')}` : f;
      });

  const make = (format: string) => {
    const file = path.join(work, `source.${format}`);
    execFileSync('qemu-img', ['create', '-q', '-f', format, file, '16M']);
    return file;
  };

  for (const format of ['qcow2', 'raw', 'vmdk', 'vdi']) {
    it(`imports a ${format} disk as a read-only qcow2 with its size and sha256`, async () => {
      const image = await store.importImage({ name: `disk-${format}`, sourcePath: make(format) });
      expect(image).toMatchObject({ kind: 'disk', format: 'qcow2', sourceFormat: format, virtualSizeBytes: 16 * 1024 * 1024 });
      const stored = image.files[0]!;
      expect(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', stored.path], { encoding: 'utf8' })).format).toBe('qcow2');
      expect(stored.sha256).toBe(await sha256File(stored.path));
      expect(statSync(stored.path).mode & 0o777).toBe(0o444);
      expect(store.baseImage(`disk-${format}`)).toEqual({ kind: 'disk', path: stored.path, format: 'qcow2' });
    });
  }

  it('keeps an OVA as it is for VirtualBox, and refuses a fake one', async () => {
    const dir = mkdtempSync(path.join(work, 'ova-'));
    writeFileSync(path.join(dir, 'box.ovf'), '<?xml version="1.0"?><Envelope/>');
    execFileSync('qemu-img', ['create', '-q', '-f', 'vmdk', path.join(dir, 'box-disk1.vmdk'), '8M']);
    const ova = path.join(work, 'box.ova');
    execFileSync('tar', ['-cf', ova, '-C', dir, 'box.ovf', 'box-disk1.vmdk']);
    const image = await store.importImage({ name: 'appliance', sourcePath: ova });
    expect(image).toMatchObject({ kind: 'appliance', format: 'ova' });
    expect(store.baseImage('appliance')).toEqual({ kind: 'appliance', path: image.files[0]!.path });
    const fake = path.join(work, 'fake.ova');
    writeFileSync(fake, 'not a tar');
    await expect(store.importImage({ name: 'fake', sourcePath: fake })).rejects.toMatchObject({ code: 'invalid' });
    expect(store.get('fake')).toBeUndefined();
  });

  it('registers kernel images and refuses bad input clearly, writing nothing', async () => {
    const kernel = path.join(work, 'vmlinuz');
    const initrd = path.join(work, 'initrd');
    writeFileSync(kernel, 'kernel');
    writeFileSync(initrd, 'initrd');
    const image = await store.importKernel({ name: 'tiny', kernel, initrd, cmdline: 'console=ttyS0' });
    expect(store.baseImage('tiny')).toEqual({ kind: 'kernel', kernel: image.files[0]!.path, initrd: image.files[1]!.path, cmdline: 'console=ttyS0' });
    // Each refusal is clear (a typed error that names the problem) and leaves the store as it was.
    const before = storeFiles();
    const garbage = path.join(work, 'garbage.img');
    writeFileSync(garbage, '');
    await expect(store.importImage({ name: 'garbage', sourcePath: garbage })).rejects.toMatchObject({ code: 'invalid', message: /empty/ });
    await expect(store.importImage({ name: 'tiny', sourcePath: make('qcow2') })).rejects.toMatchObject({ code: 'conflict' });
    await expect(store.importImage({ name: '../escape', sourcePath: make('qcow2') })).rejects.toMatchObject({ code: 'invalid' });
    await expect(store.importImage({ name: 'missing', sourcePath: path.join(work, 'nope.qcow2') })).rejects.toMatchObject({
      code: 'invalid',
      message: /nope\.qcow2 is not a file/,
    });
    await expect(store.importKernel({ name: 'no-initrd', kernel, initrd: path.join(work, 'nope'), cmdline: '' })).rejects.toMatchObject({
      code: 'invalid',
    });
    expect(storeFiles()).toEqual(before);
    expect(store.list().map((i) => i.name)).toEqual(['appliance', 'disk-qcow2', 'disk-raw', 'disk-vdi', 'disk-vmdk', 'tiny']);
    store.remove('tiny');
    expect(store.get('tiny')).toBeUndefined();
  });
});
