import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab, LabTemplateConfig, WarmPool } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages, qemuLeftovers } from '@ctp/hypervisor/test-support';
import { labPrefix } from '../labs/lab-operation.js';
import { DEMO_TARGET_WEB_ROOT } from '../services/demo-template.js';
import { createImageCatalog } from '../services/image-catalog.js';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

// A warm pool on real QEMU, kept lean: one single-VM lab in the pool, handed to a student.
describe('warm pool on real QEMU', { timeout: 180_000 }, () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-warm-pool-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.attacker.kernel,
    tcgTranslationCacheMiB: 32,
  });
  // The demo's target alone, with its secrets and their files.
  const config: LabTemplateConfig = {
    ...DEMO_TEMPLATE,
    title: 'Pool target',
    vms: DEMO_TEMPLATE.vms.filter((vm) => vm.name === 'target'),
    tasks: [],
  };
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let student: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp(
      { warmPoolReserveMiB: 0 },
      { background: true, infra: { driver, images: createImageCatalog(DEMO_IMAGES_DIR) } },
    );
    admin = await signedIn(ctx, 'admin');
    student = await signedIn(ctx, 'student');
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: admin.headers, payload: { config } });
    expect(created.statusCode, created.body).toBe(201);
    templateId = created.json().id;
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: admin.headers })).statusCode,
    ).toBe(200);
  });
  afterAll(async () => {
    // Jobs first: a refill still under way must not start a VM after the cleanup below.
    await ctx.close();
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    driver.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const pool = async (): Promise<WarmPool> =>
    (await ctx.app.inject({ url: `/api/v1/templates/${templateId}/warm-pool`, headers: admin.headers })).json();

  it('hands a running pool lab to a student at once, and it then holds its own secrets only', async () => {
    expect(
      (
        await ctx.app.inject({
          method: 'PUT',
          url: `/api/v1/templates/${templateId}/warm-pool`,
          headers: admin.headers,
          payload: { size: 1 },
        })
      ).statusCode,
    ).toBe(200);
    await expect.poll(async () => (await pool()).ready, { timeout: 120_000, interval: 500 }).toBe(1);
    const poolLabId = (await pool()).labs[0]!.id;
    const vm = `${labPrefix(poolLabId)}-target`;
    // Nothing of any lab's secrets in the pool lab's guest yet.
    await driver.waitForGuestAgent(vm, 30_000);
    expect((await driver.guestExec(vm, { argv: ['cat', `${DEMO_TARGET_WEB_ROOT}/flag.txt`] })).exitCode).not.toBe(0);
    // No refill while the student's lab runs: this test boots one guest only.
    await ctx.services.repositories.templates.setWarmPool(templateId, 0, admin.user.id);

    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    expect(created.statusCode, created.body).toBe(202);
    const lab = created.json() as Lab;
    expect(lab).toMatchObject({ id: poolLabId, status: 'running', ownerId: student.user.id });
    expect((await driver.getVm(vm))?.state).toBe('running');

    await waitForLab(
      ctx,
      student.headers,
      lab.id,
      (l) => l.steps[0]?.name === 'Generate lab secrets' && l.steps.every((s) => s.status === 'done'),
      60_000,
    );
    const flag = ctx.services.tasks.secretValues(lab.id, config).web_flag!;
    const read = await driver.guestExec(vm, { argv: ['cat', `${DEMO_TARGET_WEB_ROOT}/flag.txt`] });
    expect(read.stdout).toBe(`${flag}\n`);
    // Derived from this lab's own id: another lab of the same template gets another flag.
    expect(ctx.services.tasks.secretValues(crypto.randomUUID(), config).web_flag).not.toBe(flag);

    expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: student.headers })).statusCode).toBe(202);
    await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'deleted', 60_000);
    expect(await driver.listVms()).toEqual([]);
    driver.close();
    expect(qemuLeftovers(stateDir)).toEqual([]);
  });
});
