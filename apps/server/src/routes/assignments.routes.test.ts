import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Assignment, LabDetail } from '@ctp/contracts';
import { CONTENT_TEMPLATE } from '../test-support/content-template.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';

type Session = Awaited<ReturnType<typeof signedIn>>;
const minutes = (n: number) => new Date(Date.now() + n * 60_000).toISOString();

describe('assignments (fake driver, real jobs on the real database)', () => {
  let ctx: TestContext;
  let alice: Session;
  let bob: Session;
  let sam: Session;
  let sue: Session;
  let sid: Session;
  let tina: Session;
  let classId: string;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp({ maxLabsPerUser: 3 }, { background: true });
    alice = await signedIn(ctx, 'instructor');
    bob = await signedIn(ctx, 'instructor');
    [sam, sue, sid, tina] = [
      await signedIn(ctx, 'student'),
      await signedIn(ctx, 'student'),
      await signedIn(ctx, 'student'),
      await signedIn(ctx, 'student'),
    ];
    classId = (await teach(ctx, alice.user.id, [sam.user.id, sue.user.id, sid.user.id], 'Alice’s class')).id;
    await teach(ctx, bob.user.id, [tina.user.id], 'Bob’s class');
    // A draft template: students reach it only through the assignment.
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: alice.headers,
      payload: { config: CONTENT_TEMPLATE },
    });
    expect(created.statusCode, created.body).toBe(201);
    templateId = created.json().id;
  });
  afterAll(() => ctx.close());

  const call = (who: Session, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload ? { payload } : {}) });
  const assign = async (body: object, who = alice) => {
    const response = await call(who, 'POST', `/classes/${classId}/assignments`, { templateId, labLifetimeMinutes: 90, ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as Assignment;
  };

  it('is created by the class’s instructor with a valid window; refused otherwise with a reason', async () => {
    const bad = await call(alice, 'POST', `/classes/${classId}/assignments`, {
      templateId,
      opensAt: minutes(10),
      closesAt: minutes(5),
      labLifetimeMinutes: 60,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/closesAt must be after opensAt/);
    const past = await call(alice, 'POST', `/classes/${classId}/assignments`, {
      templateId,
      opensAt: minutes(-20),
      closesAt: minutes(-10),
      labLifetimeMinutes: 60,
    });
    expect(past.statusCode).toBe(400);
    const body = { templateId, opensAt: minutes(0), closesAt: minutes(60), labLifetimeMinutes: 60 };
    expect((await call(bob, 'POST', `/classes/${classId}/assignments`, body)).statusCode).toBe(404);
    expect((await call(sam, 'POST', `/classes/${classId}/assignments`, body)).statusCode).toBe(403);
    expect((await call(alice, 'POST', `/classes/${classId}/assignments`, { ...body, templateId: crypto.randomUUID() })).statusCode).toBe(
      404,
    );
    expect((await call(alice, 'POST', `/classes/${classId}/assignments`, { ...body, labLifetimeMinutes: 0 })).statusCode).toBe(400);
  });

  it('lets a student start one lab from an open assignment, refuses it before opensAt, and shows it in their list', async () => {
    const upcoming = await assign({ opensAt: minutes(30), closesAt: minutes(90) });
    const early = await call(sam, 'POST', `/assignments/${upcoming.id}/lab`);
    expect(early.statusCode).toBe(409);
    expect(early.json().error).toMatchObject({ code: 'assignment_not_open' });

    const open = await assign({ opensAt: minutes(-1), closesAt: minutes(45) });
    const mine = (await call(sam, 'GET', '/assignments')).json().items as Assignment[];
    expect(mine.map((a) => [a.id, a.state, a.lab])).toEqual(
      expect.arrayContaining([
        [upcoming.id, 'upcoming', null],
        [open.id, 'open', null],
      ]),
    );
    expect((await call(tina, 'GET', '/assignments')).json().items.map((a: Assignment) => a.id)).not.toContain(open.id);
    expect((await call(tina, 'POST', `/assignments/${open.id}/lab`)).statusCode).toBe(404);
    expect((await call(alice, 'POST', `/assignments/${open.id}/lab`)).statusCode).toBe(403);

    const started = await call(sam, 'POST', `/assignments/${open.id}/lab`);
    expect(started.statusCode, started.body).toBe(202);
    const lab = await waitForLab(ctx, sam.headers, started.json().id, (l) => l.status === 'running');
    // The lab lives its assignment's lifetime, capped at the close (45 min < 90).
    expect(Math.abs(new Date(lab.expiresAt!).getTime() - new Date(open.closesAt).getTime())).toBeLessThan(1000);
    const again = await call(sam, 'POST', `/assignments/${open.id}/lab`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toMatch(/already have a lab/);
    const listed = ((await call(sam, 'GET', '/assignments')).json().items as Assignment[]).find((a) => a.id === open.id)!;
    expect(listed.lab).toMatchObject({ id: lab.id, status: 'running' });
    // The instructor sees it (their student); the other instructor does not.
    expect((await call(alice, 'GET', `/labs/${lab.id}`)).statusCode).toBe(200);
    expect((await call(bob, 'GET', `/labs/${lab.id}`)).statusCode).toBe(404);
    expect((await call(bob, 'GET', `/assignments/${open.id}`)).statusCode).toBe(404);
  });

  it('provisions the class: a lab per enrolled student without one, as jobs, all running; grades and scoreboard follow', async () => {
    const a = await assign({ opensAt: minutes(-1), closesAt: minutes(120) });
    const samLab = await call(sam, 'POST', `/assignments/${a.id}/lab`);
    expect(samLab.statusCode).toBe(202);
    expect((await call(bob, 'POST', `/assignments/${a.id}/provision`)).statusCode).toBe(404);
    expect((await call(sue, 'POST', `/assignments/${a.id}/provision`)).statusCode).toBe(403);
    const provisioned = await call(alice, 'POST', `/assignments/${a.id}/provision`);
    expect(provisioned.statusCode, provisioned.body).toBe(202);
    const result = provisioned.json();
    expect(result.created.map((c: { username: string }) => c.username).sort()).toEqual([sue.user.username, sid.user.username].sort());
    expect(result.skipped).toEqual([{ username: sam.user.username, reason: 'already has a lab for this assignment' }]);
    const labs: Record<string, LabDetail> = {};
    for (const [who, id] of [
      [sam, samLab.json().id],
      ...result.created.map((c: { username: string; labId: string }) => [c.username === sue.user.username ? sue : sid, c.labId]),
    ] as [Session, string][])
      labs[who.user.username] = await waitForLab(ctx, who.headers, id, (l) => l.status === 'running');
    // Provisioning again creates nothing.
    expect((await call(alice, 'POST', `/assignments/${a.id}/provision`)).json().created).toEqual([]);

    // Sam solves the flag and the choice; Sue the word after a hint is not used.
    const secrets = ctx.services.tasks.secretValues(labs[sam.user.username]!.id, CONTENT_TEMPLATE);
    const answer = (who: Session, task: string, value: unknown) =>
      call(who, 'POST', `/labs/${labs[who.user.username]!.id}/tasks/${task}/answers`, { answer: value });
    expect((await answer(sam, 'flag', secrets.flag)).json().correct).toBe(true);
    expect((await answer(sam, 'pick', ['a', 'c'])).json().correct).toBe(true);
    await call(sue, 'POST', `/labs/${labs[sue.user.username]!.id}/tasks/flag/hints/one`);
    expect((await answer(sue, 'word', 'plain-answer-9c1e')).json().correct).toBe(true);

    const grades = await call(alice, 'GET', `/assignments/${a.id}/grades.csv`);
    expect(grades.statusCode, grades.body).toBe(200);
    expect(grades.headers['content-type']).toMatch(/^text\/csv/);
    expect(grades.headers['content-disposition']).toMatch(/attachment; filename=".*grades\.csv"/);
    const rows = parse(grades.body, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([
      'username',
      'email',
      'name',
      'intro (0)',
      'flag (10)',
      'word (5)',
      'pick (4)',
      'proof (8)',
      'total',
      'max',
      'started',
      'finished',
      'time_spent_minutes',
    ]);
    const byName = Object.fromEntries(rows.map((r) => [r.username, r]));
    expect(rows.map((r) => r.username)).toEqual([sam, sue, sid].map((s) => s.user.username).sort());
    expect(byName[sam.user.username]).toMatchObject({
      'flag (10)': '10',
      'pick (4)': '4',
      'word (5)': '0',
      total: '14',
      max: '27',
      finished: '',
    });
    expect(byName[sue.user.username]).toMatchObject({ 'flag (10)': '0', 'word (5)': '5', total: '5' });
    expect(byName[sid.user.username]).toMatchObject({ total: '0', time_spent_minutes: '0' });
    expect(new Date(byName[sam.user.username]!.started!).getTime()).toBeGreaterThan(Date.now() - 120_000);
    expect((await call(bob, 'GET', `/assignments/${a.id}/grades.csv`)).statusCode).toBe(404);
    expect((await call(sam, 'GET', `/assignments/${a.id}/grades.csv`)).statusCode).toBe(403);

    // The scoreboard: students only once the instructor turns it on.
    expect((await call(sam, 'GET', `/assignments/${a.id}/scoreboard`)).statusCode).toBe(403);
    expect((await call(alice, 'PATCH', `/assignments/${a.id}`, { scoreboard: true })).json().scoreboard).toBe(true);
    const board = (await call(sue, 'GET', `/assignments/${a.id}/scoreboard`)).json();
    expect(board).toEqual({
      maxScore: 27,
      items: [
        { rank: 1, username: sam.user.username, score: 14, solved: 2 },
        { rank: 2, username: sue.user.username, score: 5, solved: 1 },
        { rank: 3, username: sid.user.username, score: 0, solved: 0 },
      ],
    });
    expect((await call(tina, 'GET', `/assignments/${a.id}/scoreboard`)).statusCode).toBe(404);
  });

  it('refuses answers after closesAt, and the expiry job ends the labs', async () => {
    const a = await assign({ opensAt: minutes(-5), closesAt: minutes(60) });
    const started = await call(sid, 'POST', `/assignments/${a.id}/lab`);
    const lab = await waitForLab(ctx, sid.headers, started.json().id, (l) => l.status === 'running');
    // The instructor closes it now: the lab's expiry follows.
    const closed = await call(alice, 'PATCH', `/assignments/${a.id}`, { closesAt: minutes(-0.01) });
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.json().state).toBe('closed');
    const refused = await call(sid, 'POST', `/labs/${lab.id}/tasks/word/answers`, { answer: 'plain-answer-9c1e' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'assignment_closed' });
    expect((await call(sid, 'POST', `/labs/${lab.id}/extend`, { minutes: 10 })).statusCode).toBe(409);
    expect((await call(alice, 'POST', `/assignments/${a.id}/provision`)).statusCode).toBe(409);
    expect((await call(sue, 'POST', `/assignments/${a.id}/lab`)).json().error.code).toBe('assignment_closed');
    await ctx.services.maintenance.expireLabs();
    await waitForLab(ctx, sid.headers, lab.id, (l) => l.status === 'deleted' || l.status === 'deleting');

    const audit = (await ctx.services.repositories.audit.list({ limit: 200, offset: 0, action: 'assignment.*' })).rows.map(
      (e) => `${e.action}:${e.outcome}`,
    );
    expect(audit).toEqual(
      expect.arrayContaining([
        'assignment.create:success',
        'assignment.start_lab:success',
        'assignment.provision:success',
        'assignment.update:success',
      ]),
    );
  });
});
