import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

const work = mkdtempSync(path.join(tmpdir(), 'ctp-image-uploads-'));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'pipe' });

/** A real disk image made with qemu-img, as bytes. */
function makeDisk(format: string, size = '8M', extra: string[] = []): Buffer {
  const file = path.join(work, `made-${Math.random().toString(36).slice(2)}.${format}`);
  qemuImg('create', '-q', '-f', format, ...extra, file, size);
  return readFileSync(file);
}

/** A real OVA: a streamOptimized VMDK and an OVF descriptor (2 CPUs, 1024 MiB, 2 NICs) in a ustar archive. */
function makeOva(): Buffer {
  const dir = mkdtempSync(path.join(work, 'ova-'));
  qemuImg('create', '-q', '-f', 'raw', path.join(dir, 'src.raw'), '16M');
  qemuImg(
    'convert',
    '-q',
    '-f',
    'raw',
    '-O',
    'vmdk',
    '-o',
    'subformat=streamOptimized',
    path.join(dir, 'src.raw'),
    path.join(dir, 'lab-disk1.vmdk'),
  );
  const item = (type: number, quantity: number, extra = '') =>
    `<Item><rasd:ResourceType>${type}</rasd:ResourceType><rasd:VirtualQuantity>${quantity}</rasd:VirtualQuantity>${extra}</Item>`;
  writeFileSync(
    path.join(dir, 'lab.ovf'),
    `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:id="file1" ovf:href="lab-disk1.vmdk"/></References>
  <DiskSection><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="16777216"/></DiskSection>
  <VirtualSystem ovf:id="lab-vm"><VirtualHardwareSection>
    ${item(3, 2)}
    ${item(4, 1024, '<rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>')}
    <Item><rasd:ResourceType>10</rasd:ResourceType></Item>
    <Item><rasd:ResourceType>10</rasd:ResourceType></Item>
  </VirtualHardwareSection></VirtualSystem>
</Envelope>`,
  );
  execFileSync('tar', ['--format=ustar', '-cf', path.join(dir, 'lab.ova'), '-C', dir, 'lab.ovf', 'lab-disk1.vmdk']);
  return readFileSync(path.join(dir, 'lab.ova'));
}

describe('image library', () => {
  let ctx: TestContext;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let libraryDir: string;

  beforeAll(async () => {
    ctx = await createTestApp({ imageQuotaBytes: 64 * 2 ** 20 });
    libraryDir = path.join(ctx.config.dataDir, 'images');
  });
  afterAll(async () => {
    await ctx.close();
    rmSync(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await Promise.all(ctx.services.images.conversions.values());
    await resetDatabase();
    // Folders of images from earlier tests (whose records the reset removed).
    for (const entry of readdirSync(libraryDir))
      if (entry !== '.incoming') rmSync(path.join(libraryDir, entry), { recursive: true, force: true });
    teacher = await signedIn(ctx, 'instructor');
    admin = await signedIn(ctx, 'admin');
  });

  const upload = (query: string, body: Buffer, headers = teacher.headers) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/images?${query}`,
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      payload: body,
    });
  const get = (id: string) => ctx.app.inject({ method: 'GET', url: `/api/v1/images/${id}`, headers: teacher.headers });
  const untilSettled = async (id: string) => {
    await ctx.services.images.conversions.get(id);
    return get(id).then((r) => r.json());
  };
  /** Nothing was kept: no record, no stored folder, no incoming file. */
  const expectNothingLeft = async () => {
    expect((await ctx.services.repositories.images.list({ limit: 100, offset: 0 })).total).toBe(0);
    expect(readdirSync(path.join(libraryDir, '.incoming'))).toEqual([]);
    expect(readdirSync(libraryDir).filter((f) => f !== '.incoming')).toEqual([]);
  };

  it('stores an uploaded qcow2 at once (201), its checksum verified, read-only, listed with usage', async () => {
    const disk = makeDisk('qcow2');
    const response = await upload(`name=kali-lite&format=qcow2&sha256=${sha256(disk)}&osFamily=kali&defaultUser=kali`, disk);
    expect(response.statusCode, response.body).toBe(201);
    const image = response.json();
    expect(image).toMatchObject({
      name: 'kali-lite',
      kind: 'disk',
      status: 'ready',
      sha256: sha256(disk),
      osFamily: 'kali',
      virtualSizeBytes: 8 * 2 ** 20,
    });
    const stored = path.join(libraryDir, image.id, 'disk.qcow2');
    expect(statSync(stored).mode & 0o777).toBe(0o444);
    expect(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', stored], { encoding: 'utf8' })).format).toBe('qcow2');
    const list = (await ctx.app.inject({ method: 'GET', url: '/api/v1/images', headers: teacher.headers })).json();
    expect(list.items.map((i: { name: string }) => i.name)).toEqual(expect.arrayContaining(['demo-attacker', 'debian-12', 'kali-lite']));
    expect(list.usage).toEqual({ usedBytes: image.sizeBytes, quotaBytes: 64 * 2 ** 20 });
    expect(await ctx.services.images.resolve('kali-lite')).toMatchObject({ base: { kind: 'disk', path: stored, format: 'qcow2' } });
    const audit = await ctx.services.repositories.audit.list({ limit: 10, offset: 0, action: 'image.upload' });
    expect(audit.rows[0]).toMatchObject({ action: 'image.upload', outcome: 'success', targetId: image.id });
  });

  it('converts a raw image to a standalone qcow2 in a job (202, then ready)', async () => {
    const disk = makeDisk('raw');
    const response = await upload(`name=plain-raw&format=raw&sha256=${sha256(disk)}`, disk);
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json().status).toBe('converting');
    const image = await untilSettled(response.json().id);
    expect(image).toMatchObject({ status: 'ready', progress: 100, sourceFormat: 'raw', virtualSizeBytes: 8 * 2 ** 20 });
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', path.join(libraryDir, image.id, 'disk.qcow2')], { encoding: 'utf8' }),
    );
    expect(info.format).toBe('qcow2');
    expect(info['backing-filename']).toBeUndefined();
  });

  it('unpacks an OVA, converts its disk and keeps its CPUs, memory and NICs as defaults', async () => {
    const ova = makeOva();
    const response = await upload(`name=appliance&format=ova&sha256=${sha256(ova)}`, ova);
    expect(response.statusCode, response.body).toBe(202);
    const image = await untilSettled(response.json().id);
    expect(image).toMatchObject({
      status: 'ready',
      kind: 'disk',
      sourceFormat: 'ova',
      defaultCpus: 2,
      defaultMemoryMiB: 1024,
      defaultNics: 2,
    });
    expect(readdirSync(path.join(libraryDir, image.id))).toEqual(['disk.qcow2']);
  });

  it('refuses a checksum mismatch, keeping nothing', async () => {
    const disk = makeDisk('qcow2');
    const response = await upload(`name=bad-sum&format=qcow2&sha256=${'0'.repeat(64)}`, disk);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'checksum_mismatch' });
    await expectNothingLeft();
  });

  it('refuses a qcow2 whose backing file is /etc/shadow or that has an external data file, without opening either', async () => {
    // The backing file is a FIFO: any open() of it would hang this test.
    const fifo = path.join(work, 'never-opened');
    execFileSync('mkfifo', [fifo]);
    for (const [backing, format] of [
      ['/etc/shadow', 'raw'],
      [fifo, 'raw'],
    ]) {
      const hostile = makeDisk('qcow2', '8M', ['-u', '-b', backing!, '-F', format!]);
      const response = await upload('name=hostile&format=qcow2', hostile);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.message).toContain('backing file');
    }
    const dataFile = path.join(work, 'data.raw');
    writeFileSync(dataFile, '');
    const withDataFile = makeDisk('qcow2', '8M', ['-o', `data_file=${dataFile}`]);
    const response = await upload('name=hostile&format=qcow2', withDataFile);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toContain('data file');
    await expectNothingLeft();
  });

  it('refuses a declared format that does not match the file, absurd sizes and non-images', async () => {
    const cases: [string, Buffer, string][] = [
      ['format=raw', makeDisk('qcow2'), 'is qcow2, not raw'],
      ['format=vdi', makeDisk('vmdk'), 'is vmdk, not vdi'],
      ['format=qcow2', makeDisk('qcow2', '3T'), 'over the limit'],
      ['format=iso', Buffer.alloc(64 * 1024, 1), 'not an ISO 9660'],
      ['format=ova', Buffer.from('not a tar archive at all'.repeat(100)), 'not a tar archive'],
    ];
    for (const [query, body, message] of cases) {
      const response = await upload(`name=wrong&${query}`, body);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.message).toContain(message);
    }
    await expectNothingLeft();
  });

  it('leaves no file and no record when an upload is cut off mid-way', async () => {
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = ctx.app.server.address() as AddressInfo;
    const ended = new Promise<void>((resolve) => {
      const request = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/images?name=cut-off&format=raw',
        headers: { ...teacher.headers, 'content-type': 'application/octet-stream', 'content-length': String(4 * 2 ** 20) },
      });
      request.on('error', () => resolve());
      request.on('close', () => resolve());
      request.write(Buffer.alloc(512 * 1024, 7), () => setTimeout(() => request.destroy(), 200));
    });
    await ended;
    // The server notices the closed connection, then cleans up.
    for (let i = 0; i < 50 && readdirSync(path.join(libraryDir, '.incoming')).length; i++) await new Promise((r) => setTimeout(r, 100));
    await expectNothingLeft();
  });

  it('refuses an upload past the storage quota with a clear reason', async () => {
    const big = Buffer.alloc(80 * 2 ** 20);
    const response = await upload('name=too-big&format=raw', big);
    expect(response.statusCode).toBe(507);
    expect(response.json().error.message).toContain('image library is full');
    await expectNothingLeft();
  });

  it('refuses to delete (409) or rename an image while a template uses it; admins delete it after', async () => {
    const disk = makeDisk('qcow2');
    const image = (await upload('name=in-use&format=qcow2', disk)).json();
    const template = {
      ...DEMO_TEMPLATE,
      title: 'Uses it',
      vms: DEMO_TEMPLATE.vms.map((vm, i) => (i === 0 ? { ...vm, image: 'in-use' } : vm)),
    };
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: template },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect((await get(image.id)).json().usedBy.templates).toEqual([{ id: created.json().id, title: 'Uses it' }]);
    const remove = (headers: Record<string, string>) => ctx.app.inject({ method: 'DELETE', url: `/api/v1/images/${image.id}`, headers });
    expect((await remove(teacher.headers)).statusCode).toBe(403);
    const refused = await remove(admin.headers);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain('Uses it');
    const rename = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/images/${image.id}`,
      headers: teacher.headers,
      payload: { name: 'other' },
    });
    expect(rename.statusCode).toBe(409);
    const notes = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/images/${image.id}`,
      headers: teacher.headers,
      payload: { notes: 'ok' },
    });
    expect(notes.json()).toMatchObject({ notes: 'ok' });
    // Once no template version names it any more, it can go.
    await ctx.services.database.db.execute(`delete from lab_templates`);
    expect((await remove(admin.headers)).statusCode).toBe(204);
    expect(existsSync(path.join(libraryDir, image.id))).toBe(false);
    await expectNothingLeft();
  });

  it('takes a kernel + initrd pair as a tar, and refuses links inside archives', async () => {
    const dir = mkdtempSync(path.join(work, 'kernel-'));
    writeFileSync(path.join(dir, 'vmlinuz'), 'kernel bytes');
    writeFileSync(path.join(dir, 'initrd'), 'initrd bytes');
    execFileSync('tar', ['--format=ustar', '-cf', path.join(dir, 'pair.tar'), '-C', dir, 'vmlinuz', 'initrd']);
    const response = await upload('name=tiny-kernel&format=kernel&cmdline=console%3DttyS0', readFileSync(path.join(dir, 'pair.tar')));
    expect(response.statusCode, response.body).toBe(201);
    expect(await ctx.services.images.resolve('tiny-kernel')).toMatchObject({ base: { kind: 'kernel', cmdline: 'console=ttyS0' } });
    mkdirSync(path.join(dir, 'evil'));
    execFileSync('ln', ['-s', '/etc/shadow', path.join(dir, 'evil', 'lab.ovf')]);
    execFileSync('tar', ['--format=ustar', '-cf', path.join(dir, 'evil.ova'), '-C', path.join(dir, 'evil'), 'lab.ovf']);
    const evil = await upload('name=evil&format=ova', readFileSync(path.join(dir, 'evil.ova')));
    expect(evil.statusCode).toBe(400);
    expect(evil.json().error.message).toContain('not a regular file');
  });
});
