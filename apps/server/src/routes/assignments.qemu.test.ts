import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabTemplateConfig } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages, testAcceleratorCache } from '@ctp/hypervisor/test-support';
import { createImageCatalog } from '../services/image-catalog.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';

// One guest per lab keeps this lean: three students, three real guests, one provisioning request.
const ONE_BOX: LabTemplateConfig = {
  version: 1,
  title: 'One box',
  description: 'A single guest.',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'box', image: 'demo-target', nics: [{ network: 'lan', address: '10.0.0.20' }] }],
};

describe('provisioning a class on real QEMU', { timeout: 240_000 }, () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-class-qemu-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.target.kernel,
    acceleratorCacheFile: testAcceleratorCache(),
  });
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true, infra: { driver, images: createImageCatalog(DEMO_IMAGES_DIR) } });
  });
  afterAll(async () => {
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    driver.close();
    await ctx.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('provisions a class of 3 with one request: every student’s lab reaches running with its guest up', async () => {
    const teacher = await signedIn(ctx, 'instructor');
    const students = [await signedIn(ctx, 'student'), await signedIn(ctx, 'student'), await signedIn(ctx, 'student')];
    const klass = await teach(
      ctx,
      teacher.user.id,
      students.map((s) => s.user.id),
    );
    const template = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: ONE_BOX },
    });
    expect(template.statusCode, template.body).toBe(201);
    const assignment = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.id}/assignments`,
      headers: teacher.headers,
      payload: {
        templateId: template.json().id,
        opensAt: new Date().toISOString(),
        closesAt: new Date(Date.now() + 3600_000).toISOString(),
        labLifetimeMinutes: 30,
      },
    });
    expect(assignment.statusCode, assignment.body).toBe(201);
    const provisioned = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/assignments/${assignment.json().id}/provision`,
      headers: teacher.headers,
    });
    expect(provisioned.statusCode, provisioned.body).toBe(202);
    const created = provisioned.json().created as { username: string; labId: string }[];
    expect(created.map((c) => c.username).sort()).toEqual(students.map((s) => s.user.username).sort());

    const labs = await Promise.all(
      created.map((c) => {
        const owner = students.find((s) => s.user.username === c.username)!;
        return waitForLab(ctx, owner.headers, c.labId, (l) => l.status === 'running' || l.status === 'error', 180_000);
      }),
    );
    expect(labs.map((l) => [l.status, l.vms.map((vm) => vm.status)])).toEqual(labs.map(() => ['running', ['running']]));
    // Three real guests, one per lab, each running under QEMU.
    const running = (await driver.listVms()).filter((vm) => vm.state === 'running');
    expect(running).toHaveLength(3);
    // The instructor watches all three from the assignment's class; each student only their own.
    for (const lab of labs)
      expect((await ctx.app.inject({ url: `/api/v1/labs/${lab.id}`, headers: teacher.headers })).statusCode).toBe(200);
    expect(
      (await ctx.app.inject({ url: `/api/v1/labs/${labs[1]!.id}`, headers: students.find((s) => s.user.id === labs[0]!.ownerId)!.headers }))
        .statusCode,
    ).toBe(404);
  });
});
