import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabTask, LabTasks } from '@ctp/contracts';
import { labPrefix } from '../labs/lab-operation.js';
import { CONTENT_TEMPLATE } from '../test-support/content-template.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createPeerApp, createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';

describe('lab tasks on the fake driver', () => {
  let ctx: TestContext;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp({ answersPerMinute: 8, checksPerMinute: 3, maxLabsPerUser: 10 }, { background: true });
    teacher = await signedIn(ctx, 'instructor');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: CONTENT_TEMPLATE },
    });
    expect(created.statusCode, created.body).toBe(201);
    templateId = created.json().id;
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
  });
  afterAll(() => ctx.close());

  async function studentLab() {
    const student = await signedIn(ctx, 'student');
    await teach(ctx, teacher.user.id, [student.user.id]);
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    expect(created.statusCode, created.body).toBe(202);
    const lab = await waitForLab(ctx, student.headers, created.json().id, (l) => l.status === 'running' || l.status === 'error');
    expect(lab.status, JSON.stringify(lab.error)).toBe('running');
    const secrets = ctx.services.tasks.secretValues(lab.id, CONTENT_TEMPLATE);
    const call = (method: 'GET' | 'POST', path: string, payload?: object) =>
      ctx.app.inject({ method, url: `/api/v1/labs/${lab.id}${path}`, headers: student.headers, ...(payload ? { payload } : {}) });
    const tasks = async () => (await call('GET', '/tasks')).json() as LabTasks;
    const task = async (id: string) => (await tasks()).tasks.find((t) => t.id === id) as LabTask;
    return { student, lab, secrets, call, tasks, task };
  }

  it('delivers injected files with the lab secrets over the guest channel, again after a reset', async () => {
    const { lab, secrets, student } = await studentLab();
    const prefix = labPrefix(lab.id);
    const flagFile = ctx.driver.guestFiles(`${prefix}-vault`).get('/srv/flag.txt');
    expect(flagFile).toMatchObject({ mode: 0o600, owner: 'root' });
    expect(String(flagFile?.content)).toBe(`flag=${secrets.flag}\n`);
    expect(String(ctx.driver.guestFiles(`${prefix}-attacker`).get('/root/notes.txt')?.content)).toBe(`password: ${secrets.pass}\n`);
    const reset = await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${lab.id}/reset`, headers: student.headers });
    expect(reset.statusCode).toBe(202);
    await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'running');
    expect(String(ctx.driver.guestFiles(`${prefix}-vault`).get('/srv/flag.txt')?.content)).toBe(`flag=${secrets.flag}\n`);
  });

  it('scores: hints reduce the award (floored at 0), a solution makes it worth 0', async () => {
    const { call, task, secrets, tasks } = await studentLab();
    expect(await task('flag')).toMatchObject({
      state: 'open',
      points: 10,
      worth: 10,
      awarded: 0,
      hints: [
        { id: 'one', cost: 3, revealed: false },
        { id: 'two', cost: 20, revealed: false },
      ],
    });
    expect((await task('flag')).hints[0]).not.toHaveProperty('text');
    const hint = await call('POST', '/tasks/flag/hints/one');
    expect(hint.statusCode).toBe(200);
    expect(hint.json()).toMatchObject({ id: 'one', cost: 3, text: 'hidden hint text d1f0' });
    expect((await task('flag')).worth).toBe(7);
    // Revealing again costs nothing more.
    await call('POST', '/tasks/flag/hints/one');
    expect((await task('flag')).worth).toBe(7);
    const answer = await call('POST', '/tasks/flag/answers', { answer: secrets.flag });
    expect(answer.json()).toMatchObject({ correct: true, awarded: 7 });
    expect((await task('flag')).state).toBe('solved');
    expect((await tasks()).score).toBe(7);
    expect((await tasks()).maxScore).toBe(27);
    // A solved task's other hint still costs: 7 - 20 floors at 0.
    await call('POST', '/tasks/flag/hints/two');
    expect((await task('flag')).awarded).toBe(0);
    const again = await call('POST', '/tasks/flag/answers', { answer: secrets.flag });
    expect(again.statusCode).toBe(409);
  });

  it('requires locks; checks run in the VM and a pass solves; solutions only when allowed', async () => {
    const { call, task, secrets, lab } = await studentLab();
    expect((await task('proof')).state).toBe('locked');
    expect((await call('POST', '/tasks/proof/check')).statusCode).toBe(409);
    await call('POST', '/tasks/flag/answers', { answer: secrets.flag });
    expect((await task('proof')).state).toBe('open');
    const failed = await call('POST', '/tasks/proof/check');
    expect(failed.json()).toMatchObject({ passed: false });
    const attacker = `${labPrefix(lab.id)}-attacker`;
    let seen: string[] = [];
    ctx.driver.onGuestExec(attacker, (command, files) => {
      seen = command.argv;
      const proof = files.get('/root/proof.txt');
      return {
        exitCode: proof && String(proof.content).includes('checkword-5b2d') ? 0 : 1,
        stdout: `notes: ${secrets.pass}\n`,
        stderr: '',
      };
    });
    await ctx.driver.guestWriteFile(attacker, { path: '/root/proof.txt', content: 'checkword-5b2d' });
    const passed = await call('POST', '/tasks/proof/check');
    expect(passed.json()).toMatchObject({ passed: true, task: { state: 'solved', awarded: 8 } });
    expect(seen).toEqual(['/bin/sh', '-c', 'grep -q checkword-5b2d /root/proof.txt']);
    // The excerpt never carries a secret of the lab.
    expect(passed.json().output).not.toContain(secrets.pass);
    expect(passed.json().output).toContain('[secret]');
    const solution = await call('POST', '/tasks/flag/solution');
    expect(solution.json()).toMatchObject({ solution: 'the-solution-text-41aa', task: { worth: 0, awarded: 0, solutionRevealed: true } });
    expect((await call('POST', '/tasks/word/solution')).statusCode).toBe(403);
    // A reference solution with commands reveals its Markdown only: the commands are for verification.
    const proofSolution = await call('POST', '/tasks/proof/solution');
    expect(proofSolution.json()).toMatchObject({ solution: 'the-locked-solution-e2c8' });
    expect(proofSolution.body).not.toContain('solution-run-marker-6a0b');
  });

  it('maxAttempts refuses further answers; choices need exactly the correct options', async () => {
    const { call, task } = await studentLab();
    expect((await call('POST', '/tasks/word/answers', { answer: 'nope' })).json()).toMatchObject({ correct: false, attemptsLeft: 1 });
    expect((await call('POST', '/tasks/word/answers', { answer: 'nope again' })).json()).toMatchObject({ correct: false, attemptsLeft: 0 });
    const refused = await call('POST', '/tasks/word/answers', { answer: 'plain-answer-9c1e' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('no_attempts_left');
    expect((await task('word')).state).toBe('open');
    expect((await call('POST', '/tasks/pick/answers', { answer: ['a'] })).json().correct).toBe(false);
    expect((await call('POST', '/tasks/pick/answers', { answer: ['c', 'a'] })).json()).toMatchObject({ correct: true, awarded: 4 });
    expect((await task('pick')).options).toEqual([
      { id: 'a', text: 'Alpha' },
      { id: 'b', text: 'Beta' },
      { id: 'c', text: 'Gamma' },
    ]);
    expect((await call('POST', '/tasks/intro/answers', { answer: 'x' })).statusCode).toBe(409);
    expect((await call('POST', '/tasks/nope/answers', { answer: 'x' })).statusCode).toBe(404);
  });

  it("refuses another lab's secret, records it and tells staff; staff see secrets and activity", async () => {
    const mine = await studentLab();
    const theirs = await studentLab();
    expect(mine.secrets.flag).not.toBe(theirs.secrets.flag);
    const shared = await mine.call('POST', '/tasks/flag/answers', { answer: theirs.secrets.flag });
    expect(shared.json()).toMatchObject({ correct: false, awarded: 0 });
    const activity = await ctx.app.inject({ url: `/api/v1/labs/${mine.lab.id}/task-activity`, headers: teacher.headers });
    expect(activity.json().items[0]).toMatchObject({ kind: 'answer', taskId: 'flag', correct: false, sharedFromLabId: theirs.lab.id });
    const audit = await ctx.services.repositories.audit.list({ limit: 50, offset: 0, action: 'task.shared_answer' });
    expect(audit.rows.map((r) => r.targetId)).toContain(mine.lab.id);
    const staffEvents = (await ctx.app.inject({ url: '/api/v1/events?since=0&limit=1000', headers: teacher.headers })).json().items;
    expect(staffEvents).toContainEqual(expect.objectContaining({ type: 'task.shared_answer', labId: mine.lab.id }));
    const studentEvents = (await ctx.app.inject({ url: '/api/v1/events?since=0&limit=1000', headers: mine.student.headers })).json().items;
    expect(studentEvents.map((e: { type: string }) => e.type)).not.toContain('task.shared_answer');
    expect(studentEvents.map((e: { type: string }) => e.type)).toContain('task.answer');
    const secrets = await ctx.app.inject({ url: `/api/v1/labs/${mine.lab.id}/secrets`, headers: teacher.headers });
    expect(secrets.json().secrets).toContainEqual({ name: 'flag', type: 'flag', value: mine.secrets.flag });
    expect((await mine.call('GET', '/secrets')).statusCode).toBe(403);
    expect((await mine.call('GET', '/task-activity')).statusCode).toBe(403);
    // Their own flag is accepted.
    expect((await mine.call('POST', '/tasks/flag/answers', { answer: mine.secrets.flag })).json().correct).toBe(true);
  });

  it('never takes a value that repeats between labs by chance (a port) for a copy', async () => {
    const config = {
      ...CONTENT_TEMPLATE,
      title: 'Port lab',
      secrets: [...(CONTENT_TEMPLATE.secrets ?? []), { name: 'port', type: 'port' as const, min: 4000, max: 4000 }],
      tasks: [...(CONTENT_TEMPLATE.tasks ?? []), { id: 'port', title: 'Which port?', points: 1, answers: [{ secret: 'port' }] }],
    };
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: teacher.headers, payload: { config } });
    expect(created.statusCode, created.body).toBe(201);
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${created.json().id}/publish`, headers: teacher.headers });
    for (let i = 0; i < 2; i++) {
      const student = await signedIn(ctx, 'student');
      const lab = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/labs',
        headers: student.headers,
        payload: { templateId: created.json().id },
      });
      await waitForLab(ctx, student.headers, lab.json().id, (l) => l.status === 'running');
      const answer = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/labs/${lab.json().id}/tasks/port/answers`,
        headers: student.headers,
        payload: { answer: '4000' },
      });
      expect(answer.json()).toMatchObject({ correct: true, awarded: 1 });
    }
  });

  it('rate-limits answers and checks per user', async () => {
    const { call, secrets } = await studentLab();
    await call('POST', '/tasks/flag/answers', { answer: secrets.flag });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await call('POST', '/tasks/pick/answers', { answer: ['b'] })).statusCode);
    expect(statuses.slice(0, 7)).toEqual(Array(7).fill(200));
    expect(statuses.slice(7)).toContain(429);
    const checks: number[] = [];
    for (let i = 0; i < 5; i++) checks.push((await call('POST', '/tasks/proof/check')).statusCode);
    expect(checks.slice(0, 3)).toEqual([200, 200, 200]);
    expect(checks.slice(3)).toEqual([429, 429]);
  });

  it('counts the answer limit across API instances', async () => {
    const { student, lab } = await studentLab();
    const peer = await createPeerApp(ctx);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const app = i % 2 === 0 ? ctx : peer;
        const answer = await app.app.inject({
          method: 'POST',
          url: `/api/v1/labs/${lab.id}/tasks/pick/answers`,
          headers: student.headers,
          payload: { answer: ['b'] },
        });
        statuses.push(answer.statusCode);
      }
      // 8 per minute in all, whichever instance takes them (each instance alone would allow 8).
      expect(statuses.slice(0, 8)).toEqual(Array(8).fill(200));
      expect(statuses.slice(8)).toEqual([429, 429, 429, 429]);
    } finally {
      await peer.close();
    }
  });
});
