import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

type Session = Awaited<ReturnType<typeof signedIn>>;
const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();

// The demo template's lab holds 2 vCPUs and 256 MiB (two VMs of 1 vCPU, 128 MiB).
describe('quotas (fake driver, real database)', () => {
  let ctx: TestContext;
  let admin: Session;
  let alice: Session;
  let bob: Session;
  let teacher: Session;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp({ maxLabsPerUser: 3, warmPoolReserveMiB: 0 }, { background: true });
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    [admin, alice, bob, teacher] = [
      await signedIn(ctx, 'admin'),
      await signedIn(ctx, 'student'),
      await signedIn(ctx, 'student'),
      await signedIn(ctx, 'instructor'),
    ];
    templateId = await demoTemplateId(ctx);
  });

  const setQuota = async (scope: string, subject: string, body: object) => {
    const response = await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/quotas/${scope}/${subject}`,
      headers: admin.headers,
      payload: body,
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  };
  const create = (who: Session) => ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: who.headers, payload: { templateId } });
  const labsOf = async (userId: string) =>
    (await ctx.services.repositories.labs.list({ limit: 100, offset: 0, ownerId: userId, includeDeleted: true })).rows;
  const auditOf = async (action: string) =>
    (await ctx.app.inject({ url: `/api/v1/audit?action=${action}`, headers: admin.headers })).json().items as {
      outcome: string;
      statusCode: number | null;
      details: Record<string, unknown>;
    }[];

  it('refuses a lab past a role quota with 429 naming it, writes no lab, and audits the refusal as denied', async () => {
    await setQuota('role', 'student', { maxLabs: 2 });
    expect((await create(alice)).statusCode).toBe(202);
    expect((await create(alice)).statusCode).toBe(202);
    const refused = await create(alice);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toEqual({
      code: 'quota_exceeded',
      message: 'Quota exceeded: role student allows 2 concurrent labs; you have 2',
      quota: { scope: 'role', subject: 'student', field: 'maxLabs', limit: 2, used: 2, requested: 1 },
    });
    expect(await labsOf(alice.user.id)).toHaveLength(2);
    const [request] = await auditOf('lab.create');
    expect(request).toMatchObject({ outcome: 'denied', statusCode: 429 });
    const [refusal] = await auditOf('lab.quota_exceeded');
    expect(refusal).toMatchObject({ outcome: 'denied', details: { owner: alice.user.username, quota: { scope: 'role', limit: 2 } } });
    // Another student of the same role has their own count.
    expect((await create(bob)).statusCode).toBe(202);
  });

  it('lets a user row win over the role row, field by field (a null falls through to the role)', async () => {
    await setQuota('role', 'student', { maxLabs: 1, maxVcpus: 4 });
    await setQuota('user', alice.user.username, { maxLabs: 3 });
    expect((await create(alice)).statusCode).toBe(202);
    expect((await create(alice)).statusCode).toBe(202);
    // Labs allow a third, but the role's vCPU limit (not overridden) is reached: 4 used, 2 more needed.
    const refused = await create(alice);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.message).toBe('Quota exceeded: role student allows 4 vCPUs at once; you have 4 and this lab needs 2');
    expect((await create(bob)).statusCode).toBe(202);
    expect((await create(bob)).json().error.quota).toMatchObject({ scope: 'role', field: 'maxLabs', limit: 1 });
    await setQuota('user', alice.user.id, { maxVcpus: 6 });
    expect((await create(alice)).statusCode).toBe(202);
    expect((await create(alice)).json().error.quota).toMatchObject({
      scope: 'user',
      subject: alice.user.username,
      field: 'maxLabs',
      limit: 3,
    });
  });

  it('limits memory, and frees the quota when a lab is deleted', async () => {
    await setQuota('user', alice.user.id, { maxMemoryMiB: 300 });
    const first = await create(alice);
    expect(first.statusCode).toBe(202);
    const refused = await create(alice);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.message).toBe(
      `Quota exceeded: user ${alice.user.username} allows 300 MiB of memory at once; you have 256 MiB and this lab needs 256 MiB`,
    );
    // Deleting a lab frees what it held at once (a lab being deleted holds nothing any more).
    await waitForLab(ctx, alice.headers, first.json().id, (lab) => lab.status === 'running');
    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${first.json().id}`, headers: alice.headers });
    expect(deleted.statusCode).toBe(202);
    expect((await create(alice)).statusCode).toBe(202);
  });

  it('checks a stopped lab started again like a new one: it holds no vCPUs or memory while stopped, its start must fit', async () => {
    await setQuota('role', 'student', { maxVcpus: 4 });
    const act = (who: Session, id: string, action: string) =>
      ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${id}/${action}`, headers: who.headers });
    const stopped = async () => {
      const id = (await create(alice)).json().id as string;
      await waitForLab(ctx, alice.headers, id, (lab) => lab.status === 'running');
      expect((await act(alice, id, 'stop')).statusCode).toBe(202);
      await waitForLab(ctx, alice.headers, id, (lab) => lab.status === 'stopped');
      return id;
    };
    const [first, second] = [await stopped(), await stopped()];
    const mine = await ctx.app.inject({ url: '/api/v1/me/quota', headers: alice.headers });
    expect(mine.json().used).toEqual({ labs: 2, vcpus: 0, memoryMiB: 0 });
    // Stopped, the two labs left the 4 vCPUs free: a running one now holds 2 of them.
    const running = (await create(alice)).json().id as string;
    // Two starts at once with room for one: the per-user lock lets exactly one through.
    const answers = await Promise.all([act(alice, first, 'start'), act(alice, second, 'start')]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 429]);
    const refused = answers.find((a) => a.statusCode === 429)!;
    expect(refused.json().error).toEqual({
      code: 'quota_exceeded',
      message: 'Quota exceeded: role student allows 4 vCPUs at once; you have 4 and this lab needs 2',
      quota: { scope: 'role', subject: 'student', field: 'maxVcpus', limit: 4, used: 4, requested: 2 },
    });
    const left = answers[0]!.statusCode === 429 ? first : second;
    expect((await ctx.services.repositories.labs.findById(left))?.status).toBe('stopped');
    const [refusal] = await auditOf('lab.quota_exceeded');
    expect(refusal).toMatchObject({ outcome: 'denied', details: { owner: alice.user.username, labId: left, operation: 'start' } });
    expect((await auditOf('lab.start')).map((e) => [e.outcome, e.statusCode]).sort()).toEqual([
      ['denied', 429],
      ['success', 202],
    ]);
    // An instructor starting it for her is held to her quota, and told whose it is.
    await setQuota('user', alice.user.id, { maxLabs: 2 });
    const forHer = await act(admin, left, 'start');
    expect(forHer.statusCode).toBe(429);
    // A lowered lab limit holds too: the stopped lab already counts, so it asks for no new one (3 > 2).
    expect(forHer.json().error.message).toBe(
      `Quota exceeded: user ${alice.user.username} allows 2 concurrent labs; ${alice.user.username} has 3`,
    );
    await setQuota('user', alice.user.id, { maxLabs: 3 });
    // Nor can its VMs be started one by one around the check.
    const [vm] = await ctx.services.repositories.labs.vmsOf(left);
    const vmStart = await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vm!.id}/start`, headers: alice.headers });
    expect(vmStart.statusCode).toBe(409);
    expect(vmStart.json().error.message).toBe('The lab is stopped: start the lab to start its VMs');
    // Deleting the running lab gives its vCPUs back: the stopped one starts.
    await waitForLab(ctx, alice.headers, running, (lab) => lab.status === 'running');
    expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${running}`, headers: alice.headers })).statusCode).toBe(202);
    expect((await act(alice, left, 'start')).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, left, (lab) => lab.status === 'running');
    // A start refused for its state is still a 409, whatever the quotas say.
    expect((await act(alice, left, 'start')).statusCode).toBe(409);
  });

  it('keeps CTP_MAX_LABS_PER_USER as the default with no quota row (staff ×10)', async () => {
    for (let i = 0; i < 3; i++) expect((await create(alice)).statusCode).toBe(202);
    const refused = await create(alice);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.quota).toEqual({
      scope: 'default',
      subject: 'CTP_MAX_LABS_PER_USER',
      field: 'maxLabs',
      limit: 3,
      used: 3,
      requested: 1,
    });
    const mine = await ctx.app.inject({ url: '/api/v1/me/quota', headers: alice.headers });
    expect(mine.json()).toMatchObject({
      maxLabs: { limit: 3, source: 'default' },
      maxVcpus: { limit: null, source: 'none' },
      used: { labs: 3, vcpus: 6, memoryMiB: 768 },
      classes: [],
    });
    const staff = await ctx.app.inject({ url: '/api/v1/me/quota', headers: teacher.headers });
    expect(staff.json().maxLabs).toEqual({ limit: 30, source: 'default' });
  });

  it('never lets concurrent creates of one user pass the quota together', async () => {
    await setQuota('role', 'student', { maxLabs: 2 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => create(alice)));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 202, 429, 429, 429, 429]);
    expect((await labsOf(alice.user.id)).length).toBe(2);
  });

  it('checks under a per-user lock: slow concurrent inserts past the check still never exceed (service level)', async () => {
    await setQuota('role', 'student', { maxLabs: 2 });
    const owner = { id: alice.user.id, username: alice.user.username, role: 'student' as const };
    const insert = () =>
      ctx.services.quotas.enforce({ owner, templateId }, { vcpus: 1, memoryMiB: 64 }, (guard) => {
        const id = crypto.randomUUID();
        const lab = { id, name: 'Race', userId: owner.id, templateId, config: {}, status: 'queued' };
        const vm = { name: 'box', driverName: `race-${id}`, image: 'demo-target', nics: [], cpus: 1, memoryMiB: 64 };
        // The check passes, then the insert takes a while: without the lock every racer would pass the same check.
        return ctx.services.repositories.labs.create(lab, [], [vm], async (tx) => {
          await guard(tx);
          await new Promise((resolve) => setTimeout(resolve, 100));
        });
      });
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, insert));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason.code)).toEqual(
      Array(4).fill('quota_exceeded'),
    );
    expect(await labsOf(alice.user.id)).toHaveLength(2);
  });

  it('holds each student of a class to its class quota for that class’s labs; provisioning skips who is over it', async () => {
    const klass = await teach(ctx, teacher.user.id, [alice.user.id, bob.user.id], 'Quota class');
    const call = (method: 'POST' | 'GET', url: string, who = teacher, payload?: object) =>
      ctx.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload ? { payload } : {}) });
    const assign = async () => {
      const body = { templateId, opensAt: minutes(-1), closesAt: minutes(60), labLifetimeMinutes: 30 };
      const response = await call('POST', `/classes/${klass.id}/assignments`, teacher, body);
      expect(response.statusCode, response.body).toBe(201);
      return response.json().id as string;
    };
    const [first, second] = [await assign(), await assign()];
    await setQuota('class', klass.id, { maxLabs: 1 });
    // A lab outside the class does not count against the class's quota.
    expect((await create(alice)).statusCode).toBe(202);
    expect((await call('POST', `/assignments/${first}/lab`, alice)).statusCode).toBe(202);
    const refused = await call('POST', `/assignments/${second}/lab`, alice);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.message).toBe('Quota exceeded: class Quota class allows 1 concurrent lab per student; you have 1 in it');
    // Whole-class provisioning: alice is over the class quota, bob is not.
    const provisioned = await call('POST', `/assignments/${second}/provision`);
    expect(provisioned.statusCode, provisioned.body).toBe(202);
    expect(provisioned.json().created.map((c: { username: string }) => c.username)).toEqual([bob.user.username]);
    expect(provisioned.json().skipped).toEqual([
      {
        username: alice.user.username,
        reason: `Quota exceeded: class Quota class allows 1 concurrent lab per student; ${alice.user.username} has 1 in it`,
      },
    ]);
    const refusals = await auditOf('lab.quota_exceeded');
    expect(refusals[0]).toMatchObject({ outcome: 'denied', details: { owner: alice.user.username, assignmentId: second } });
    const mine = (await call('GET', '/me/quota', alice)).json();
    expect(mine.classes).toEqual([
      {
        classId: klass.id,
        className: 'Quota class',
        maxLabs: 1,
        maxVcpus: null,
        maxMemoryMiB: null,
        used: { labs: 1, vcpus: 2, memoryMiB: 256 },
      },
    ]);
    expect(mine.used.labs).toBe(2);
  });

  it('is managed by admins only: list, set, delete, each audited; bad input gets a 4xx with a reason', async () => {
    for (const who of [alice, teacher]) {
      expect((await ctx.app.inject({ url: '/api/v1/quotas', headers: who.headers })).statusCode).toBe(403);
      const put = await ctx.app.inject({
        method: 'PUT',
        url: '/api/v1/quotas/role/student',
        headers: who.headers,
        payload: { maxLabs: 9 },
      });
      expect(put.statusCode).toBe(403);
    }
    const set = await setQuota('role', 'student', { maxLabs: 2, maxVcpus: 4, maxMemoryMiB: 1024 });
    expect(set).toMatchObject({ scope: 'role', subject: 'student', subjectName: 'student', maxLabs: 2, maxVcpus: 4, maxMemoryMiB: 1024 });
    // A limit left out keeps its value; null removes it.
    expect(await setQuota('role', 'student', { maxVcpus: null })).toMatchObject({ maxLabs: 2, maxVcpus: null, maxMemoryMiB: 1024 });
    await setQuota('user', alice.user.username, { maxLabs: 5 });
    const list = await ctx.app.inject({ url: '/api/v1/quotas', headers: admin.headers });
    expect(
      list.json().items.map((q: { scope: string; subject: string; subjectName: string }) => [q.scope, q.subject, q.subjectName]),
    ).toEqual([
      ['role', 'student', 'student'],
      ['user', alice.user.id, alice.user.username],
    ]);
    const bad = async (url: string, payload: unknown, status: number, reason: RegExp, method = 'PUT') => {
      const response = await ctx.app.inject({ method: method as 'PUT', url, headers: admin.headers, payload: payload as object });
      expect(response.statusCode, response.body).toBe(status);
      expect(response.json().error.message).toMatch(reason);
    };
    await bad('/api/v1/quotas/role/wizard', { maxLabs: 1 }, 400, /Unknown role "wizard"/);
    await bad('/api/v1/quotas/team/x', { maxLabs: 1 }, 400, /scope/);
    await bad(`/api/v1/quotas/user/nobody-here`, { maxLabs: 1 }, 404, /User nobody-here not found/);
    await bad(`/api/v1/quotas/class/${crypto.randomUUID()}`, { maxLabs: 1 }, 404, /Class .* not found/);
    await bad('/api/v1/quotas/class/not-a-uuid', { maxLabs: 1 }, 400, /class id/);
    await bad('/api/v1/quotas/role/student', { maxLabs: -1 }, 400, /maxLabs/);
    await bad('/api/v1/quotas/role/student', { maxLabs: 1.5 }, 400, /maxLabs/);
    await bad('/api/v1/quotas/role/student', {}, 400, /Invalid request/);
    await bad('/api/v1/quotas/role/student', { maxCpus: 1 }, 400, /maxCpus/);
    const removed = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/quotas/user/${alice.user.username}`, headers: admin.headers });
    expect(removed.statusCode).toBe(204);
    await bad(`/api/v1/quotas/user/${alice.user.id}`, undefined, 404, /Quota for user .* not found/, 'DELETE');
    expect((await auditOf('quota.set')).map((e) => e.outcome)).toEqual(expect.arrayContaining(['success', 'denied', 'failure']));
    expect((await auditOf('quota.delete')).map((e) => [e.outcome, e.statusCode])).toEqual([
      ['failure', 404],
      ['success', 204],
    ]);
  });
  it('counts a warm-pool handover: over a quota the pool’s lab stays in the pool', async () => {
    const warmPool = (payload?: object) =>
      ctx.app.inject({
        method: payload ? 'PUT' : 'GET',
        url: `/api/v1/templates/${templateId}/warm-pool`,
        headers: admin.headers,
        ...(payload ? { payload } : {}),
      });
    expect((await warmPool({ size: 1 })).statusCode).toBe(200);
    await expect.poll(async () => (await warmPool()).json().ready, { timeout: 20_000 }).toBe(1);
    await setQuota('user', alice.user.id, { maxVcpus: 1 });
    const refused = await create(alice);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.quota).toMatchObject({ scope: 'user', field: 'maxVcpus', limit: 1, used: 0, requested: 2 });
    expect(await labsOf(alice.user.id)).toEqual([]);
    expect((await warmPool()).json().ready).toBe(1);
    await setQuota('user', alice.user.id, { maxVcpus: 2 });
    const handed = await create(alice);
    expect(handed.statusCode, handed.body).toBe(202);
    // The pool's running lab, handed over at once, now holds alice's 2 vCPUs.
    expect(handed.json().status).toBe('running');
    expect((await create(alice)).json().error.quota).toMatchObject({ field: 'maxVcpus', used: 2, requested: 2 });
    expect((await warmPool({ size: 0 })).statusCode).toBe(200);
  });
});
