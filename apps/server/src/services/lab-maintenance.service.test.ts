import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeLab, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

describe('lab maintenance: expiry and reconciliation', () => {
  let ctx: TestContext;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  beforeAll(async () => {
    ctx = await createTestApp({ expiryWarningMinutes: 10 }, { background: true });
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    ctx.driver.vms.clear();
    ctx.driver.networks.clear();
    alice = await signedIn(ctx, 'student');
  });

  const audit = async (action: string) => (await ctx.services.repositories.audit.list({ limit: 50, offset: 0, action })).rows;
  const labEvents = async (labId: string) => (await ctx.services.repositories.events.since(0, 100)).filter((e) => e.labId === labId);

  it('warns once before a lab expires, then stops and deletes it when it has', async () => {
    const { lab } = await makeLab(ctx, alice.user.id);
    const labs = ctx.services.repositories.labs;
    await labs.update(lab.id, { expiresAt: new Date(Date.now() + 5 * 60_000) });
    expect(await ctx.services.maintenance.expireLabs()).toEqual({ warned: [lab.id], expired: [] });
    expect(await ctx.services.maintenance.expireLabs()).toEqual({ warned: [], expired: [] });
    const warning = (await labEvents(lab.id)).find((e) => e.type === 'lab.expiring');
    expect(warning?.data).toMatchObject({ minutesLeft: 5 });

    const later = new Date(Date.now() + 6 * 60_000);
    expect((await ctx.services.maintenance.expireLabs(later)).expired).toEqual([lab.id]);
    const deleted = await waitForLab(ctx, alice.headers, lab.id, (l) => l.status === 'deleted');
    expect(deleted.vms.every((vm) => vm.status === 'deleted')).toBe(true);
    expect(ctx.driver.vms.size).toBe(0);
    expect((await audit('lab.expire')).map((e) => e.targetId)).toEqual([lab.id]);
  });

  it('destroys VMs and networks nobody owns, marks vanished VMs, fixes drifted states, auditing each', async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    const gone = await makeLab(ctx, alice.user.id);
    // Drift: an orphan VM and network, a VM that vanished, a VM stopped behind our back.
    await ctx.driver.createNetwork({ name: 'lffffffffffffffff-lan' });
    await ctx.driver.createVm({
      name: 'lffffffffffffffff-ghost',
      image: { kind: 'disk', path: '/dev/null', format: 'raw' },
      cpus: 1,
      memoryMiB: 64,
      nics: [],
    });
    ctx.driver.vms.delete(gone.vm.driverName);
    await ctx.driver.stopVm(vm.driverName);

    const report = await ctx.services.maintenance.reconcile();
    expect(report).toEqual({
      orphansDestroyed: ['lffffffffffffffff-ghost'],
      vmsMissing: [gone.vm.id],
      vmsChanged: [{ vm: vm.id, from: 'running', to: 'stopped' }],
      networksDestroyed: ['lffffffffffffffff-lan'],
    });
    expect(ctx.driver.vms.has('lffffffffffffffff-ghost')).toBe(false);
    expect((await ctx.services.repositories.labs.findVm(gone.vm.id))?.status).toBe('missing');
    expect((await ctx.services.repositories.labs.findVm(vm.id))?.status).toBe('stopped');
    expect((await audit('reconcile.*')).map((e) => e.action).sort()).toEqual([
      'reconcile.network_destroyed',
      'reconcile.orphan_destroyed',
      'reconcile.vm_missing',
      'reconcile.vm_state_changed',
    ]);
    // A second pass finds nothing more.
    expect(await ctx.services.maintenance.reconcile()).toEqual({
      orphansDestroyed: [],
      vmsMissing: [],
      vmsChanged: [],
      networksDestroyed: [],
    });
  });
});
