import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabTemplateConfig, TemplateVerification } from '@ctp/contracts';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

/** A template whose reference solutions read the lab's own flag, pick the right choices, and one wrong answer. */
const VERIFY_TEMPLATE: LabTemplateConfig = {
  version: 1,
  title: 'Verify me',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'box', image: 'demo-target', nics: [{ network: 'lan', address: '10.0.0.5' }] }],
  secrets: [{ name: 'flag', type: 'flag' }],
  inject: [{ vm: 'box', path: '/srv/flag.txt', content: '{{flag}}\n' }],
  tasks: [
    { id: 'intro', title: 'Read me' },
    { id: 'flag', title: 'Find the flag', answers: [{ secret: 'flag' }], solution: { vm: 'box', run: 'cat /srv/flag.txt' } },
    {
      id: 'pick',
      title: 'Pick',
      options: [
        { id: 'a', text: 'A', correct: true },
        { id: 'b', text: 'B' },
      ],
    },
    { id: 'proof', title: 'Proof', check: { vm: 'box', run: 'test -f /srv/flag.txt' } },
    { id: 'word', title: 'The word', answers: [{ equals: 'right' }], solution: { answer: 'wrong' } },
    { id: 'after', title: 'After the word', requires: ['word'], answers: [{ equals: 'x' }] },
  ],
};

describe('pre-class verification (fake driver)', () => {
  let ctx: TestContext;
  let teacher: Awaited<ReturnType<typeof signedIn>>;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    teacher = await signedIn(ctx, 'instructor');
  });
  afterAll(() => ctx.close());

  async function createTemplate(config: LabTemplateConfig): Promise<string> {
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: teacher.headers, payload: { config } });
    expect(created.statusCode, created.body).toBe(201);
    return created.json().id;
  }

  async function verify(templateId: string): Promise<TemplateVerification> {
    const started = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/verify`, headers: teacher.headers });
    expect(started.statusCode, started.body).toBe(202);
    expect(started.json()).toMatchObject({ status: 'running', requestedBy: teacher.user.username });
    const again = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/verify`, headers: teacher.headers });
    expect(again.statusCode, 'one run at a time').toBe(409);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const last = await ctx.app.inject({ url: `/api/v1/templates/${templateId}/verification`, headers: teacher.headers });
      expect(last.statusCode, last.body).toBe(200);
      const v = last.json() as TemplateVerification;
      if (v.status !== 'running') return v;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('the verification did not finish');
  }

  it('fails with the failing task named, skips what requires it, passes the rest; deletes its lab; audits', async () => {
    const templateId = await createTemplate(VERIFY_TEMPLATE);
    const none = await ctx.app.inject({ url: `/api/v1/templates/${templateId}/verification`, headers: teacher.headers });
    expect(none.statusCode).toBe(404);
    const v = await verify(templateId);
    expect(v.status).toBe('failed');
    expect(v.failedTasks).toEqual(['word', 'after']);
    expect(v.message).toContain('word');
    const byId = Object.fromEntries(v.tasks.map((t) => [t.taskId, t]));
    expect(byId.flag).toMatchObject({ passed: true, detail: 'answer accepted' });
    expect(byId.pick).toMatchObject({ passed: true });
    expect(byId.proof).toMatchObject({ passed: true });
    expect(byId.intro).toMatchObject({ passed: true });
    expect(byId.word).toMatchObject({ passed: false, detail: 'answer refused: "wrong"' });
    expect(byId.after!.detail).toContain('requires word');
    // Its lab is deleted once it is done.
    const deadline = Date.now() + 10_000;
    while ((await ctx.services.repositories.labs.findById(v.labId!))?.status !== 'deleted' && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await ctx.services.repositories.labs.findById(v.labId!))?.status).toBe('deleted');
    const audit = await ctx.app.inject({ url: '/api/v1/audit?limit=200', headers: (await signedIn(ctx, 'admin')).headers });
    const actions = (audit.json().items as { action: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['template.verify', 'template.verified']));
  });

  it('passes once the answer is right; the solution output is what gets submitted', async () => {
    const fixed = {
      ...VERIFY_TEMPLATE,
      tasks: VERIFY_TEMPLATE.tasks!.map((t) =>
        t.id === 'word' ? { ...t, solution: { answer: 'right' } } : t.id === 'after' ? { ...t, solution: { answer: 'x' } } : t,
      ),
    };
    const v = await verify(await createTemplate(fixed));
    expect(v).toMatchObject({ status: 'passed', failedTasks: [], message: null });
    expect(v.tasks).toHaveLength(6);
  });

  it('a flag solution that reads the wrong file fails that task', async () => {
    const broken = {
      ...VERIFY_TEMPLATE,
      tasks: [{ id: 'flag', title: 'Find the flag', answers: [{ secret: 'flag' }], solution: { vm: 'box', run: 'cat /srv/nothing.txt' } }],
    };
    const v = await verify(await createTemplate(broken));
    expect(v.status).toBe('failed');
    expect(v.tasks[0]).toMatchObject({ taskId: 'flag', passed: false });
    expect(v.tasks[0]!.detail).toMatch(/^the solution exited with 1: cat: can't open/);
  });

  it('is staff only; bad ids and unknown templates are 4xx', async () => {
    const templateId = await createTemplate(VERIFY_TEMPLATE);
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
    const student = await signedIn(ctx, 'student');
    const post = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/verify`, headers: student.headers });
    expect(post.statusCode).toBe(403);
    const get = await ctx.app.inject({ url: `/api/v1/templates/${templateId}/verification`, headers: student.headers });
    expect(get.statusCode).toBe(403);
    expect((await ctx.app.inject({ method: 'POST', url: '/api/v1/templates/nope/verify', headers: teacher.headers })).statusCode).toBe(400);
    const unknown = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/templates/${crypto.randomUUID()}/verify`,
      headers: teacher.headers,
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('refuses a solution that names an unknown VM, at its field', async () => {
    const bad = {
      ...VERIFY_TEMPLATE,
      tasks: [{ id: 'flag', title: 'F', answers: [{ secret: 'flag' }], solution: { vm: 'nope', run: 'true' } }],
    };
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: teacher.headers, payload: { config: bad } });
    expect(created.statusCode).toBe(400);
    expect(created.body).toContain('tasks[0].solution.vm');
    const noVm = { ...VERIFY_TEMPLATE, tasks: [{ id: 'flag', title: 'F', answers: [{ secret: 'flag' }], solution: { run: 'true' } }] };
    const refused = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: teacher.headers, payload: { config: noVm } });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('say in which VM the solution runs');
  });
});
