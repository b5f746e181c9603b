import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabDetail } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { SerialReader } from '@ctp/hypervisor/test-support';
import { createImageCatalog, DEFAULT_IMAGES_DIR } from '../services/image-catalog.js';
import { openWebSocketStream } from '../test-support/console-client.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';

// The "Debian pair" demo on real QEMU through the API: full Debian guests booting from qcow2
// overlays of the image built by scripts/build-debian-image.sh, configured by cloud-init. Full-OS
// boots take minutes under TCG: this file boots the pair once and checks everything on it.
const BOOT_TIMEOUT = 9 * 60_000;

describe('Debian pair on real QEMU', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-debian-qemu-'));
  const builtins = createImageCatalog(DEFAULT_IMAGES_DIR);
  const debian = builtins.get('debian-12');
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: debian?.base.kind === 'disk' ? debian.base.boot?.kernel : undefined,
  });
  let ctx: TestContext;
  let base: string;
  let student: Awaited<ReturnType<typeof signedIn>>;
  let lab: LabDetail;
  const consoles: SerialReader[] = [];

  beforeAll(async () => {
    // The image must have been built (scripts/build-debian-image.sh): fail loudly, never skip.
    expect(debian, 'images/build/debian is missing: run scripts/build-debian-image.sh').toBeDefined();
    ctx = await createTestApp({}, { background: true, infra: { driver, images: builtins } });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    student = await signedIn(ctx, 'student');
  });
  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    driver.close();
    await ctx?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const serial = async (vmId: string) => {
    const ticket = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers: student.headers,
      payload: { kind: 'serial' },
    });
    expect(ticket.statusCode, ticket.body).toBe(201);
    const reader = new SerialReader(await openWebSocketStream(`${base}${ticket.json().url}`));
    consoles.push(reader);
    return reader;
  };

  /** Signs in on the serial console's login prompt with the lab's generated credentials. */
  const login = async (vm: LabDetail['vms'][number]) => {
    const console = await serial(vm.id);
    await console.waitFor(`${vm.name} login:`, BOOT_TIMEOUT);
    const from = console.output.length;
    console.write(`${vm.credentials!.username}\n`);
    await console.waitFor('Password:', 60_000, from);
    console.write(`${vm.credentials!.password}\n`);
    await console.waitFor(`${vm.credentials!.username}@${vm.name}`, 120_000, from);
    return console;
  };

  it(
    'boots both guests from disk overlays with cloud-init addresses and generated logins; attacker reaches target SSH, nothing outside',
    async () => {
      const template = await ctx.services.templates.ensureDebianPairTemplate();
      const created = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/labs',
        headers: student.headers,
        payload: { templateId: template!.id },
      });
      expect(created.statusCode, created.body).toBe(202);
      lab = await waitForLab(ctx, student.headers, created.json().id, (l) => l.status === 'running', 120_000);

      // Each VM's disk is its own overlay on the read-only Debian base.
      for (const row of await ctx.services.repositories.labs.vmsOf(lab.id)) {
        const info = JSON.parse(
          execFileSync('qemu-img', ['info', '--output=json', '-U', path.join(stateDir, row.driverName, 'disk.qcow2')], {
            encoding: 'utf8',
          }),
        );
        expect(info['backing-filename']).toBe(debian!.base.kind === 'disk' ? debian!.base.path : '');
      }
      // Generated per lab and VM, shown to the lab's user.
      const [attackerVm, targetVm] = ['attacker', 'target'].map((name) => lab.vms.find((vm) => vm.name === name)!);
      expect(attackerVm!.credentials).toMatchObject({ username: 'debian', password: expect.stringMatching(/^\w{14}$/) });
      expect(targetVm!.credentials!.password).not.toBe(attackerVm!.credentials!.password);

      const [attacker] = await Promise.all([
        login(attackerVm!),
        serial(targetVm!.id).then((c) => c.waitFor('target login:', BOOT_TIMEOUT)),
      ]);
      expect(await attacker!.run('hostname', 30_000)).toContain('attacker');
      expect(await attacker!.run('ip -4 -o addr show eth0', 30_000)).toContain('10.0.1.10/24');
      const reached = await attacker!.run(
        'for i in $(seq 60); do nc -z -w 3 10.0.1.20 22 && echo TARGET-SSH-OPEN && break; sleep 3; done',
        240_000,
      );
      expect(reached).toContain('TARGET-SSH-OPEN');
      // Outside the lab: the host's own addresses, even with a route pointing at them.
      const hostAddress = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
      expect(hostAddress).toBeDefined();
      const outside = await attacker!.run(
        `sudo ip route add default dev eth0; nc -z -w 3 ${hostAddress} 22 && echo HOST-REACHED || echo HOST-UNREACHABLE`,
        60_000,
      );
      expect(outside).toContain('HOST-UNREACHABLE');

      // Prepared by hand, kept for the golden image.
      await attacker!.run('echo prepared-by-hand | sudo tee /opt/golden-marker && sync', 60_000);
    },
    BOOT_TIMEOUT + 8 * 60_000,
  );

  it(
    'saves a lab VM as an image; a new lab started from it has the file written in the VM',
    async () => {
      // The student's instructor (instructors reach the labs of the students they teach).
      const teacher = await signedIn(ctx, 'instructor');
      await teach(ctx, teacher.user.id, [student.user.id]);
      const attackerVm = lab.vms.find((vm) => vm.name === 'attacker')!;
      const saved = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/vms/${attackerVm.id}/images`,
        headers: teacher.headers,
        payload: { name: 'golden-attacker' },
      });
      expect(saved.statusCode, saved.body).toBe(202);
      await ctx.services.images.conversions.get(saved.json().id);
      const image = (await ctx.app.inject({ method: 'GET', url: `/api/v1/images/${saved.json().id}`, headers: teacher.headers })).json();
      expect(image).toMatchObject({ status: 'ready', progress: 100, kind: 'disk', configMethod: 'cloud-init' });
      const stored = path.join(ctx.config.dataDir, 'images', image.id, 'disk.qcow2');
      expect(
        JSON.parse(execFileSync('qemu-img', ['info', '--output=json', stored], { encoding: 'utf8' }))['backing-filename'],
      ).toBeUndefined();
      // The saved image stands alone: the pair's lab (and its overlays) can go, which also gives
      // the copy's boot the CPUs back.
      const deleted = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: student.headers });
      expect(deleted.statusCode, deleted.body).toBe(202);
      await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'deleted', 120_000);

      const config = {
        version: 1,
        title: 'From the golden image',
        networks: [{ name: 'lan', cidr: '10.0.3.0/24' }],
        vms: [{ name: 'copy', image: 'golden-attacker', memoryMiB: 512, nics: [{ network: 'lan', address: '10.0.3.10' }] }],
      };
      const template = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: teacher.headers, payload: { config } });
      expect(template.statusCode, template.body).toBe(201);
      await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${template.json().id}/publish`, headers: teacher.headers });
      const created = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/labs',
        headers: student.headers,
        payload: { templateId: template.json().id },
      });
      expect(created.statusCode, created.body).toBe(202);
      const copyLab = await waitForLab(ctx, student.headers, created.json().id, (l) => l.status === 'running', 120_000);
      const copy = await login(copyLab.vms[0]!);
      expect(await copy.run('cat /opt/golden-marker', 30_000)).toContain('prepared-by-hand');
      // cloud-init configured the copy for its new lab: new name, new address, new password.
      // The login prompt can come before cloud-init has named and addressed the NIC: wait for it to finish.
      expect(await copy.run('sudo cloud-init status --wait >/dev/null 2>&1; hostname; ip -4 -o addr show eth0', 300_000)).toMatch(
        /copy[\s\S]*10\.0\.3\.10\/24/,
      );
    },
    BOOT_TIMEOUT + 5 * 60_000,
  );
});
