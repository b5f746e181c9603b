import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Lab, WarmPool } from '@ctp/contracts';
import { labPrefix } from '../labs/lab-operation.js';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { WarmPoolService } from '../services/warm-pool.service.js';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

// Warm pools on the memory driver with real jobs: accounting, refill, handover, visibility.
describe('warm pools', () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let student: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp({ maxLabsPerUser: 1, warmPoolReserveMiB: 0 }, { background: true });
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    ctx.driver.vms.clear();
    ctx.driver.networks.clear();
    admin = await signedIn(ctx, 'admin');
    student = await signedIn(ctx, 'student');
    templateId = await demoTemplateId(ctx);
  });

  const setPool = (size: unknown, headers = admin.headers, id = templateId) =>
    ctx.app.inject({ method: 'PUT', url: `/api/v1/templates/${id}/warm-pool`, headers, payload: { size } });
  const pool = async (): Promise<WarmPool> =>
    (await ctx.app.inject({ url: `/api/v1/templates/${templateId}/warm-pool`, headers: admin.headers })).json();
  const poolReady = async (ready: number) => {
    await expect.poll(async () => (await pool()).ready, { timeout: 20_000 }).toBe(ready);
    return pool();
  };
  const labsOf = async (headers: Record<string, string>, query = ''): Promise<Lab[]> =>
    (await ctx.app.inject({ url: `/api/v1/labs${query}`, headers })).json().items;
  const targetFiles = (labId: string) => ctx.driver.vms.get(`${labPrefix(labId)}-target`)!.files;

  it('keeps N labs ready, invisible to students; a student gets one at once with its own secrets; the pool refills', async () => {
    const set = await setPool(2);
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ templateId, size: 2 });
    const filled = await poolReady(2);
    const poolIds = filled.labs.map((l) => l.id);
    expect(filled.labs.every((l) => l.status === 'running')).toBe(true);
    // No secrets or content in a lab nobody has yet.
    for (const id of poolIds) expect(targetFiles(id).has('/var/www/flag.txt')).toBe(false);
    // Staff see the pool's labs as such; students see none of them.
    const staffView = await labsOf(admin.headers, '?all=true');
    expect(
      staffView
        .filter((l) => l.pool)
        .map((l) => l.id)
        .sort(),
    ).toEqual([...poolIds].sort());
    expect(await labsOf(student.headers)).toEqual([]);
    expect((await ctx.app.inject({ url: `/api/v1/labs/${poolIds[0]}`, headers: student.headers })).statusCode).toBe(404);

    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    expect(created.statusCode, created.body).toBe(202);
    const lab = created.json() as Lab;
    // Handed over at once: a pool lab, already running, now the student's, with a lifetime from now.
    expect(poolIds).toContain(lab.id);
    expect(lab).toMatchObject({ status: 'running', ownerId: student.user.id });
    expect(lab.pool).toBeUndefined();
    expect(new Date(lab.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 100 * 60_000);
    // Its own secrets, derived from its id, arrive through the guest channel.
    const done = await waitForLab(
      ctx,
      student.headers,
      lab.id,
      (l) => l.steps[0]?.name === 'Generate lab secrets' && l.steps.every((s) => s.status === 'done'),
    );
    expect(done.steps.map((s) => s.name)).toEqual(['Generate lab secrets', 'Deliver lab content']);
    const flag = ctx.services.tasks.secretValues(lab.id, DEMO_TEMPLATE).web_flag!;
    expect(targetFiles(lab.id).get('/var/www/flag.txt')?.content.toString()).toBe(`${flag}\n`);
    const other = poolIds.find((id) => id !== lab.id)!;
    expect(targetFiles(other).has('/var/www/flag.txt')).toBe(false);
    expect(ctx.services.tasks.secretValues(other, DEMO_TEMPLATE).web_flag).not.toBe(flag);

    // The student sees their lab; the pool refills to 2 without it.
    const mine = await labsOf(student.headers);
    expect(
      mine.map((l) => l.id),
      JSON.stringify(mine),
    ).toEqual([lab.id]);
    const refilled = await poolReady(2);
    expect(refilled.labs.map((l) => l.id)).not.toContain(lab.id);
    // The student's limit (1) counts their own lab only; pool labs count for nobody.
    const second = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    expect(second.statusCode).toBe(429);
  });

  it('boots a lab as usual when the pool is empty, and empties the pool when its size goes to 0', async () => {
    expect((await setPool(1)).statusCode).toBe(200);
    await poolReady(1);
    expect((await setPool(0)).statusCode).toBe(200);
    await expect.poll(async () => (await pool()).labs.length, { timeout: 20_000 }).toBe(0);
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    expect(created.json()).toMatchObject({ status: 'provisioning' });
    const lab = await waitForLab(ctx, student.headers, created.json().id, (l) => l.status === 'running');
    expect(lab.steps.map((s) => s.name)).toContain('Generate lab secrets');
  });

  it('provisions pool labs only within the host capacity', async () => {
    // A lab of the demo template needs 256 MiB; 1024 MiB must stay free; 1300 MiB are free: room for one.
    const made: string[] = [];
    const tight = new WarmPoolService(
      ctx.services.repositories.templates,
      ctx.services.repositories.labs,
      { provisionPoolLab: async (_owner, template) => (made.push(template.id), 'x'), deletePoolLab: async () => false },
      async () => {},
      { reserveMiB: 1024, freeMemoryMiB: () => 1300 },
    );
    await tight.setSize({ id: admin.user.id, username: admin.user.username, role: 'admin' }, templateId, 3);
    expect(await tight.refill(templateId)).toEqual({ created: 1, removed: 0 });
    expect(made).toEqual([templateId]);
  });

  it('answers bad input with 4xx, lets only staff who may edit the template set it, and audits every change', async () => {
    for (const size of [-1, 21, 1.5, 'two', null]) expect((await setPool(size)).statusCode, String(size)).toBe(400);
    const extra = await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/templates/${templateId}/warm-pool`,
      headers: admin.headers,
      payload: { size: 1, owner: 'x' },
    });
    expect(extra.statusCode).toBe(400);
    expect((await setPool(1, admin.headers, '00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await setPool(1, admin.headers, 'not-a-uuid')).statusCode).toBe(400);
    expect((await setPool(1, student.headers)).statusCode).toBe(403);
    const instructor = await signedIn(ctx, 'instructor');
    // The demo template is nobody's: only admins may change it.
    expect((await setPool(1, instructor.headers)).statusCode).toBe(403);
    const archived = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/archive`, headers: admin.headers });
    expect(archived.statusCode).toBe(200);
    expect((await setPool(1)).statusCode).toBe(409);
    expect(await pool()).toMatchObject({ size: 0, labs: [] });
    const audit = (await ctx.app.inject({ url: '/api/v1/audit?action=template.warm_pool', headers: admin.headers })).json();
    expect(audit.items.map((e: { outcome: string; statusCode: number }) => [e.outcome, e.statusCode])).toEqual([
      ['failure', 409],
      ['denied', 403],
      ['denied', 403],
      ['failure', 400],
      ['failure', 404],
      ['failure', 400],
      ...[-1, 21, 1.5, 'two', null].map(() => ['failure', 400]),
    ]);
  });
});
