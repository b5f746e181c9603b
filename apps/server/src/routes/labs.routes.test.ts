import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

describe('labs (memory driver, real jobs on the real database)', () => {
  let ctx: TestContext;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  let bob: Awaited<ReturnType<typeof signedIn>>;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp({ maxLabsPerUser: 2 }, { background: true });
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    ctx.driver.vms.clear();
    ctx.driver.networks.clear();
    ctx.driver.failOn = undefined;
    alice = await signedIn(ctx, 'student');
    bob = await signedIn(ctx, 'student');
    teacher = await signedIn(ctx, 'instructor');
    await teach(ctx, teacher.user.id, [alice.user.id, bob.user.id]);
    templateId = await demoTemplateId(ctx);
  });

  const startLab = async (headers = alice.headers) => {
    const response = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers, payload: { templateId } });
    expect(response.statusCode, response.body).toBe(202);
    return response.json();
  };
  const act = (id: string, action: string, headers = alice.headers) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${id}/${action}`, headers });

  it('answers 202 at once, provisions as a job step by step, and reaches running', async () => {
    const created = await startLab();
    expect(created.status).toBe('provisioning');
    const lab = await waitForLab(ctx, alice.headers, created.id, (l) => l.status === 'running');
    expect(lab.steps.map((s) => s.name)).toEqual([
      'Create network lan',
      'Create VM attacker',
      'Create VM target',
      'Generate lab secrets',
      'Start attacker (cold boot: saved states are turned off)',
      // Each VM's start step also delivers its lab content, as soon as that VM runs.
      'Start target (cold boot: saved states are turned off)',
    ]);
    expect(lab.steps.every((s) => s.status === 'done' && s.durationMs !== null)).toBe(true);
    expect(lab.progress).toEqual({ done: 6, total: 6, current: null });
    expect(lab.vms.map((vm) => [vm.name, vm.status, vm.addresses[0]?.address])).toEqual([
      ['attacker', 'running', '10.0.0.10'],
      ['target', 'running', '10.0.0.20'],
    ]);
    expect(lab.networks).toEqual([{ name: 'lan', cidr: '10.0.0.0/24' }]);
    expect(new Date(lab.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 119 * 60_000);
    // The hypervisor holds two running VMs with an initial snapshot; their names never leak.
    expect([...ctx.driver.vms.values()].map((vm) => [vm.info.state, vm.snapshots.map((s) => [s.name, s.withMemory])])).toEqual([
      ['running', [['initial', false]]],
      ['running', [['initial', false]]],
    ]);
    expect(JSON.stringify(lab)).not.toMatch(/"l[0-9a-f]{16}-/);
  });

  it('stops, starts, resets and deletes, leaving nothing on the hypervisor', async () => {
    const { id } = await startLab();
    await waitForLab(ctx, alice.headers, id, (l) => l.status === 'running');
    expect((await act(id, 'start')).statusCode).toBe(409);
    expect((await act(id, 'stop')).statusCode).toBe(202);
    const stopped = await waitForLab(ctx, alice.headers, id, (l) => l.status === 'stopped');
    expect(stopped.vms.every((vm) => vm.status === 'stopped')).toBe(true);
    expect((await act(id, 'start')).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, id, (l) => l.status === 'running');
    expect((await act(id, 'reset')).statusCode).toBe(202);
    const reset = await waitForLab(ctx, alice.headers, id, (l) => l.status === 'running' && l.steps[0]?.name.startsWith('Revert') === true);
    expect(reset.steps.map((s) => s.status)).toEqual(['done', 'done', 'done']);
    expect(reset.steps.at(-1)?.name).toBe('Deliver lab content');
    const deleting = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}`, headers: alice.headers });
    expect(deleting.statusCode).toBe(202);
    const deleted = await waitForLab(ctx, alice.headers, id, (l) => l.status === 'deleted');
    expect(deleted.vms.every((vm) => vm.status === 'deleted')).toBe(true);
    expect(ctx.driver.vms.size).toBe(0);
    expect(ctx.driver.networks.size).toBe(0);
    // A deleted lab leaves the default list but stays on record.
    expect((await ctx.app.inject({ url: '/api/v1/labs', headers: alice.headers })).json().total).toBe(0);
  });

  it('ends in error with the step and the hypervisor message, and cleans up what it made', async () => {
    ctx.driver.failOn = { operation: 'createVm', name: 'target', message: 'qemu-img: Could not open base image' };
    const { id } = await startLab();
    const lab = await waitForLab(ctx, alice.headers, id, (l) => l.status === 'error', 20_000);
    const message = 'The hypervisor failed to do this: qemu-img: Could not open base image';
    expect(lab.error).toEqual({ step: 'Create VM target', message });
    expect(lab.steps.find((s) => s.status === 'failed')?.error).toBe(message);
    expect(ctx.driver.vms.size).toBe(0);
    expect(ctx.driver.networks.size).toBe(0);
    // A lab in error can still be deleted.
    ctx.driver.failOn = undefined;
    expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}`, headers: alice.headers })).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, id, (l) => l.status === 'deleted');
  });

  it("keeps students out of each other's labs, lets the owner share one, and lets staff see all", async () => {
    const { id } = await startLab();
    await waitForLab(ctx, alice.headers, id, (l) => l.status === 'running');
    expect((await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers: bob.headers })).statusCode).toBe(404);
    expect((await act(id, 'stop', bob.headers)).statusCode).toBe(404);
    expect((await ctx.app.inject({ url: '/api/v1/labs', headers: bob.headers })).json().total).toBe(0);
    expect((await ctx.app.inject({ url: '/api/v1/labs?all=true', headers: bob.headers })).statusCode).toBe(403);
    const lab = (await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers: alice.headers })).json();
    const vmId = lab.vms[0].id;
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vmId}/reboot`, headers: bob.headers })).statusCode).toBe(404);

    const shared = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/labs/${id}/members`,
      headers: alice.headers,
      payload: { userId: bob.user.id },
    });
    expect(shared.statusCode).toBe(200);
    expect(shared.json().members).toEqual([{ id: bob.user.id, username: bob.user.username }]);
    expect((await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers: bob.headers })).statusCode).toBe(200);
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vmId}/reboot`, headers: bob.headers })).statusCode).toBe(204);
    // A member uses the lab but may not delete it or change who is in it.
    expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}`, headers: bob.headers })).statusCode).toBe(403);
    const removed = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}/members/${bob.user.id}`, headers: teacher.headers });
    expect(removed.statusCode).toBe(200);
    expect((await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers: bob.headers })).statusCode).toBe(404);

    const all = await ctx.app.inject({ url: `/api/v1/labs?all=true&ownerId=${alice.user.id}`, headers: teacher.headers });
    expect(all.json().items.map((l: { id: string }) => l.id)).toEqual([id]);
    expect((await act(id, 'stop', teacher.headers)).statusCode).toBe(202);
  });

  it('refuses labs beyond the per-user limit with a clear 429', async () => {
    await startLab();
    await startLab();
    const third = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: alice.headers, payload: { templateId } });
    expect(third.statusCode).toBe(429);
    expect(third.json().error).toMatchObject({
      code: 'quota_exceeded',
      message: expect.stringContaining('allows 2 concurrent labs; you have 2'),
    });
  });

  it('extends within the longest lifetime and refuses beyond it', async () => {
    const { id, expiresAt } = await startLab();
    const extended = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/labs/${id}/extend`,
      headers: alice.headers,
      payload: { minutes: 30 },
    });
    expect(extended.statusCode).toBe(200);
    expect(new Date(extended.json().expiresAt).getTime() - new Date(expiresAt).getTime()).toBeGreaterThanOrEqual(30 * 60_000 - 1000);
    const tooFar = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/labs/${id}/extend`,
      headers: alice.headers,
      payload: { minutes: 1000 },
    });
    expect(tooFar.statusCode).toBe(409);
    expect(tooFar.json().error.message).toMatch(/at most 480 minutes/);
  });

  it('takes, lists and reverts VM snapshots', async () => {
    const { id } = await startLab();
    const lab = await waitForLab(ctx, alice.headers, id, (l) => l.status === 'running');
    const vmId = lab.vms[0]!.id;
    const taken = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/snapshots`,
      headers: alice.headers,
      payload: { name: 'before-exploit' },
    });
    expect(taken.statusCode).toBe(201);
    expect(taken.json()).toMatchObject({ name: 'before-exploit', withMemory: true });
    const again = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/snapshots`,
      headers: alice.headers,
      payload: { name: 'before-exploit' },
    });
    expect(again.statusCode).toBe(409);
    const list = await ctx.app.inject({ url: `/api/v1/vms/${vmId}/snapshots`, headers: alice.headers });
    expect(list.json().map((s: { name: string }) => s.name)).toEqual(['initial', 'before-exploit']);
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vmId}/stop`, headers: alice.headers })).statusCode).toBe(204);
    const reverted = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/snapshots/before-exploit/revert`,
      headers: alice.headers,
    });
    expect(reverted.statusCode).toBe(204);
    const after = await waitForLab(ctx, alice.headers, id, (l) => l.vms[0]!.status === 'running');
    expect(after.vms[0]!.status).toBe('running');
    const missing = await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vmId}/snapshots/nope/revert`, headers: alice.headers });
    expect(missing.statusCode).toBe(404);
  });
});
