import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentProgress } from '@ctp/contracts';
import { CONTENT_TEMPLATE } from '../test-support/content-template.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

describe('assignment progress (the live dashboard)', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestApp({ answersPerMinute: 100 }, { background: true });
  });
  afterAll(() => ctx.close());

  it("shows each student's lab, tasks, score, attempts, hints and activity to the class's teachers only", async () => {
    const teacher = await signedIn(ctx, 'instructor');
    const colleague = await signedIn(ctx, 'instructor');
    const alice = await signedIn(ctx, 'student');
    const bob = await signedIn(ctx, 'student');
    const template = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: CONTENT_TEMPLATE },
    });
    const klass = (
      await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/classes',
        headers: teacher.headers,
        payload: { name: 'Sec 1', description: '' },
      })
    ).json();
    await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.id}/students`,
      headers: teacher.headers,
      payload: { usernames: [alice.user.username, bob.user.username] },
    });
    const assignment = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.id}/assignments`,
      headers: teacher.headers,
      payload: {
        templateId: template.json().id,
        opensAt: new Date(Date.now() - 60_000).toISOString(),
        closesAt: new Date(Date.now() + 3600_000).toISOString(),
        labLifetimeMinutes: 60,
      },
    });
    expect(assignment.statusCode, assignment.body).toBe(201);
    const id = assignment.json().id as string;
    const progress = async (headers = teacher.headers) => ctx.app.inject({ url: `/api/v1/assignments/${id}/progress`, headers });

    const before = (await progress()).json() as AssignmentProgress;
    expect(before.rows.map((r) => [r.username, r.lab])).toEqual(
      [alice, bob].map((s) => [s.user.username, null]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const provisioned = await ctx.app.inject({ method: 'POST', url: `/api/v1/assignments/${id}/provision`, headers: teacher.headers });
    expect(provisioned.statusCode, provisioned.body).toBe(202);
    const aliceLabId = (provisioned.json().created as { username: string; labId: string }[]).find(
      (c) => c.username === alice.user.username,
    )!.labId;
    await waitForLab(ctx, alice.headers, aliceLabId, (l) => l.status === 'running');

    // Alice works: a wrong answer, a hint, the right flag.
    const call = (path: string, payload?: object) =>
      ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${aliceLabId}${path}`, headers: alice.headers, ...(payload ? { payload } : {}) });
    await call('/tasks/flag/answers', { answer: 'nope' });
    await call('/tasks/flag/hints/one');
    const flag = ctx.services.tasks.secretValues(aliceLabId, CONTENT_TEMPLATE).flag!;
    expect((await call('/tasks/flag/answers', { answer: flag })).json().correct).toBe(true);

    const after = (await progress()).json() as AssignmentProgress;
    expect(after.taskIds).toEqual(CONTENT_TEMPLATE.tasks!.map((t) => t.id));
    const row = after.rows.find((r) => r.username === alice.user.username)!;
    expect(row.lab).toMatchObject({ id: aliceLabId, status: 'running' });
    expect(row.lab!.secondsLeft).toBeGreaterThan(3000);
    expect(row.lab!.consoleVmId).not.toBeNull();
    expect(row.tasks.find((t) => t.id === 'flag')).toMatchObject({ state: 'solved', awarded: 7, attempts: 2, hintsUsed: 1 });
    expect(row).toMatchObject({ score: 7, attempts: 2, hintsUsed: 1 });
    expect(row.lastActivity).not.toBeNull();
    expect(after.rows.find((r) => r.username === bob.user.username)).toMatchObject({ score: 0, attempts: 0, lastActivity: null });

    expect([403, 404]).toContain((await progress(colleague.headers)).statusCode);
    expect([403, 404]).toContain((await progress(alice.headers)).statusCode);
    expect(
      (await ctx.app.inject({ url: `/api/v1/assignments/${crypto.randomUUID()}/progress`, headers: teacher.headers })).statusCode,
    ).toBe(404);
    expect((await ctx.app.inject({ url: '/api/v1/assignments/nope/progress', headers: teacher.headers })).statusCode).toBe(400);
  });
});
