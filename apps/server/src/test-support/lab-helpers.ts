import { expect } from 'vitest';
import { labPrefix } from '../labs/lab-operation.js';
import type { LabDetail } from '@ctp/contracts';
import type { TestContext } from './test-app.js';

/** Polls a lab until `done` says so (or fails the test after `timeoutMs`). */
export async function waitForLab(
  ctx: TestContext,
  headers: Record<string, string>,
  labId: string,
  done: (lab: LabDetail) => boolean,
  timeoutMs = 30_000,
): Promise<LabDetail> {
  const deadline = Date.now() + timeoutMs;
  let lab: LabDetail | undefined;
  while (Date.now() < deadline) {
    const response = await ctx.app.inject({ url: `/api/v1/labs/${labId}`, headers });
    expect(response.statusCode, response.body).toBe(200);
    lab = response.json() as LabDetail;
    if (done(lab)) return lab;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`lab ${labId} did not reach the expected state; last seen: ${JSON.stringify(lab?.status)} ${JSON.stringify(lab?.steps)}`);
}

/** The id of the demo template installed at first start. */
export async function demoTemplateId(ctx: TestContext): Promise<string> {
  return (await ctx.services.templates.ensureDemoTemplate()).id;
}

/**
 * A lab made directly in the database and the memory driver (not through the API under test):
 * one network, one VM, in the given state, with an `initial` snapshot.
 */
export async function makeLab(ctx: TestContext, ownerId: string, status: 'running' | 'stopped' = 'running') {
  const template = await ctx.services.templates.ensureDemoTemplate();
  const id = crypto.randomUUID();
  const prefix = labPrefix(id);
  const lab = await ctx.services.repositories.labs.create(
    {
      id,
      name: 'Fixture lab',
      userId: ownerId,
      templateId: template.id,
      config: template.config,
      status,
      expiresAt: new Date(Date.now() + 3600_000),
    },
    [{ name: 'lan', cidr: '10.0.0.0/24', driverName: `${prefix}-lan` }],
    [{ name: 'box', driverName: `${prefix}-box`, image: 'demo-target', nics: [{ network: 'lan', address: '10.0.0.5' }], status }],
  );
  await ctx.driver.createNetwork({ name: `${prefix}-lan` });
  await ctx.driver.createVm({
    name: `${prefix}-box`,
    image: { kind: 'disk', path: '/dev/null', format: 'raw' },
    cpus: 1,
    memoryMiB: 64,
    nics: [{ network: `${prefix}-lan` }],
  });
  if (status === 'running') await ctx.driver.startVm(`${prefix}-box`);
  await ctx.driver.takeSnapshot(`${prefix}-box`, 'initial');
  const [vm] = await ctx.services.repositories.labs.vmsOf(lab.id);
  return { lab, vm: vm! };
}
