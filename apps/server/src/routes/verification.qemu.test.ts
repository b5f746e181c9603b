import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TemplateVerification } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages } from '@ctp/hypervisor/test-support';
import { createImageCatalog } from '../services/image-catalog.js';
import { demoTemplateId } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

// Pre-class verification of "Network basics" on real QEMU guests: the reference solutions scan
// target, fetch its web flag and banner from attacker, write the banner file, and every task passes.
describe('pre-class verification on real QEMU', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-verify-qemu-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.attacker.kernel,
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

  it('passes every task of "Network basics", then deletes its lab', async () => {
    const teacher = await signedIn(ctx, 'instructor');
    const templateId = await demoTemplateId(ctx);
    const started = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/verify`, headers: teacher.headers });
    expect(started.statusCode, started.body).toBe(202);
    let v = started.json() as TemplateVerification;
    const deadline = Date.now() + 300_000;
    while (v.status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      v = (await ctx.app.inject({ url: `/api/v1/templates/${templateId}/verification`, headers: teacher.headers })).json();
    }
    expect(v.status, JSON.stringify(v, null, 1)).toBe('passed');
    expect(v.tasks.map((t) => [t.taskId, t.passed])).toEqual([
      ['scan', true],
      ['web-flag', true],
      ['banner', true],
      ['banner-file', true],
    ]);
    const deadlineGone = Date.now() + 60_000;
    while ((await ctx.services.repositories.labs.findById(v.labId!))?.status !== 'deleted' && Date.now() < deadlineGone)
      await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await driver.listVms()).length).toBe(0);
  }, 400_000);
});
