import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_TEMPLATE, NEVER_FOR_STUDENTS } from '../test-support/content-template.js';
import { solutionText } from '../services/answer-matching.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, login, signedIn, teach, type TestContext } from '../test-support/test-app.js';

/**
 * The student-view walker: a student walks EVERY route of the OpenAPI document (so a new route is
 * walked without anyone remembering it) and both sockets, and nothing they receive may hold a
 * secret value, an answer, a check command, an unrevealed solution or hint, a hidden VM's name,
 * address or settings.
 */
describe('what a student receives', () => {
  let ctx: TestContext;
  let base: string;
  let student: Awaited<ReturnType<typeof signedIn>>;
  let other: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;
  let labId: string;
  let visibleVmId: string;
  let hiddenVmId: string;
  let secretValues: string[];

  beforeAll(async () => {
    ctx = await createTestApp(
      { answersPerMinute: 1000, checksPerMinute: 1000, hostName: 'hv-never-shown-to-students' },
      { background: true },
    );
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    const teacher = await signedIn(ctx, 'instructor');
    student = await signedIn(ctx, 'student');
    other = await signedIn(ctx, 'student');
    await teach(ctx, teacher.user.id, [student.user.id, other.user.id]);
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: CONTENT_TEMPLATE },
    });
    templateId = created.json().id;
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
    const lab = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    labId = lab.json().id;
    await waitForLab(ctx, student.headers, labId, (l) => l.status === 'running');
    const vms = await ctx.services.repositories.labs.vmsOf(labId);
    visibleVmId = vms.find((vm) => vm.studentVisible)!.id;
    hiddenVmId = vms.find((vm) => !vm.studentVisible)!.id;
    // Which machine a lab runs on is the platform's business (staff see it): its id and name are never a student's.
    secretValues = [
      ...Object.values(ctx.services.tasks.secretValues(labId, CONTENT_TEMPLATE)),
      (await ctx.services.hosts.ensureLocal())!,
      'hv-never-shown-to-students',
    ];
    // Staff look at the lab too: what they do must not reach the student either.
    await ctx.app.inject({ url: `/api/v1/labs/${labId}/secrets`, headers: teacher.headers });
  }, 60_000);
  afterAll(() => ctx.close());

  /** What must not appear, minus hints and solutions the student has revealed (they may see those from then on). */
  const revealed = new Set<string>();
  function forbidden(): string[] {
    const hintsAndSolutions = (CONTENT_TEMPLATE.tasks ?? []).flatMap((t) => [
      ...(t.hints ?? []).map((h) => ({ key: `hint:${t.id}:${h.id}`, text: h.text })),
      ...(solutionText(t) ? [{ key: `solution:${t.id}`, text: solutionText(t)! }] : []),
    ]);
    return [
      ...NEVER_FOR_STUDENTS.filter((s) => !hintsAndSolutions.some((h) => h.text === s && revealed.has(h.key))),
      ...hintsAndSolutions.filter((h) => !revealed.has(h.key)).map((h) => h.text),
      '10.9.0.5',
      ...secretValues,
    ];
  }
  function assertClean(where: string, received: string): void {
    for (const secret of forbidden())
      expect(received.includes(secret), `${where} leaked "${secret}": ${received.slice(0, 400)}`).toBe(false);
  }

  it('finds nothing secret on any route, socket or console ticket', async () => {
    const document = (await ctx.app.inject('/api/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })),
    );
    // Reads first, then actions; what ends the lab, then what ends the session (sign-outs), last.
    const last = ['/labs/{id}/stop', '/labs/{id}/reset', '/labs/{id}'];
    const rank = (op: { method: string; path: string }) =>
      (op.method === 'GET' ? 0 : 1) +
      (last.some((l) => op.path.endsWith(l) && op.method !== 'GET') ? 2 : 0) +
      (op.method === 'DELETE' ? 3 : 0) +
      (op.path.startsWith('/api/v1/auth/') && op.method !== 'GET' ? 10 : 0);
    operations.sort((a, b) => rank(a) - rank(b));
    const tasks = CONTENT_TEMPLATE.tasks ?? [];
    const bodies: Record<string, object> = {
      'POST /api/v1/auth/login': { username: student.user.username, password: student.user.password },
      'POST /api/v1/templates': { config: CONTENT_TEMPLATE },
      'PUT /api/v1/templates/{id}': { config: CONTENT_TEMPLATE },
      'POST /api/v1/labs': { templateId },
      'POST /api/v1/labs/{id}/extend': { minutes: 5 },
      'POST /api/v1/labs/{id}/members': { userId: other.user.id },
      'POST /api/v1/users': { username: 'walker-user', password: 'long enough pw', role: 'student' },
      'PATCH /api/v1/users/{id}': { role: 'admin' },
      'POST /api/v1/users/{id}/password': { password: 'another long pw' },
      'POST /api/v1/vms/{id}/snapshots': { name: 'mine' },
      'POST /api/v1/vms/{id}/console-tickets': { kind: 'serial' },
      'POST /api/v1/labs/{id}/tasks/{taskId}/answers': { answer: 'wrong answer' },
      'POST /api/v1/labs/{id}/help': { message: 'I am stuck on the flag' },
    };
    let walked = 0;
    for (const op of operations) {
      // Every way of filling the path: both VMs, every task, every hint.
      const fills: { url: string; reveals?: string }[] = [];
      const vmIds = op.path.startsWith('/api/v1/vms/') ? [visibleVmId, hiddenVmId] : [''];
      for (const vmId of vmIds) {
        for (const task of op.path.includes('{taskId}') ? tasks : [undefined]) {
          for (const hint of op.path.includes('{hintId}') ? (task?.hints ?? []) : [undefined]) {
            if (op.path.includes('{hintId}') && !hint) continue;
            const url = op.path
              .replace('/templates/{id}', `/templates/${templateId}`)
              .replace('/labs/{id}', `/labs/${labId}`)
              .replace('/vms/{id}', `/vms/${vmId}`)
              .replace('/users/{id}', `/users/${student.user.id}`)
              .replace('{userId}', other.user.id)
              .replace('{taskId}', task?.id ?? '')
              .replace('{hintId}', hint?.id ?? '')
              .replace('{name}', 'initial')
              .replace('{kind}', 'serial');
            const reveals = hint
              ? `hint:${task!.id}:${hint.id}`
              : op.path.endsWith('/solution') && task
                ? `solution:${task.id}`
                : undefined;
            fills.push({ url, ...(reveals ? { reveals } : {}) });
          }
        }
      }
      for (const { url, reveals } of fills) {
        const payload = bodies[`${op.method} ${op.path}`];
        const response = await ctx.app.inject({
          method: op.method as 'GET',
          url,
          headers: student.headers,
          ...(payload ? { payload } : {}),
        });
        walked++;
        expect(response.statusCode, `${op.method} ${url}: ${response.body}`).toBeLessThan(500);
        if (reveals && response.statusCode === 200) revealed.add(reveals);
        assertClean(`${op.method} ${url}`, `${JSON.stringify(response.headers)}\n${response.body}`);
        if (url.includes(hiddenVmId)) expect(response.statusCode, `${op.method} ${url}`).toBeGreaterThanOrEqual(400);
      }
      // Solve what can be solved, so later reads show solved states too.
      if (op.method === 'POST' && op.path.endsWith('/answers')) {
        for (const [task, answer] of [
          ['flag', secretValues[0]!],
          ['word', 'REGEX-ANSWER-12'],
          ['pick', ['a', 'c']],
        ] as const) {
          const solved = await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/labs/${labId}/tasks/${task}/answers`,
            headers: student.headers,
            payload: { answer },
          });
          expect(solved.json().correct, `${task}: ${solved.body}`).toBe(true);
          assertClean(`answer ${task}`, solved.body);
        }
      }
    }
    expect(walked).toBeGreaterThan(document.paths ? Object.keys(document.paths).length : 0);

    // The walk ended with signing out everywhere: sign in again.
    const { token } = await login(ctx, student.user.username, student.user.password);
    student = { ...student, token, headers: { authorization: `Bearer ${token}` } };

    // A console ticket for the hidden VM is refused; the visible one's console carries nothing secret.
    const hiddenTicket = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${hiddenVmId}/console-tickets`,
      headers: student.headers,
      payload: { kind: 'serial' },
    });
    expect(hiddenTicket.statusCode).toBe(404);
    assertClean('hidden console ticket', hiddenTicket.body);
  });

  it('finds nothing secret in the event replay or the event socket', async () => {
    const fresh = student;
    const replay = await ctx.app.inject({ url: '/api/v1/events?since=0&limit=1000', headers: fresh.headers });
    expect(replay.json().items.length).toBeGreaterThan(5);
    assertClean('GET /api/v1/events', replay.body);
    const ticket = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: fresh.headers })).json();
    const socket = new WebSocket(`${base}${ticket.url}&since=0`);
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.onmessage = (message) => {
        received.push(String(message.data));
        if (String(message.data).includes('"ready"')) resolve();
      };
      socket.onerror = () => reject(new Error('socket error'));
    });
    // Live events too: a check and a hidden VM's status change.
    await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${labId}/tasks/proof/check`, headers: fresh.headers });
    const vault = (await ctx.services.repositories.labs.vmsOf(labId)).find((vm) => !vm.studentVisible)!;
    await ctx.services.eventBus.publish(
      labId,
      'vm.status',
      { vmId: vault.id, name: vault.name, status: 'running' },
      { ownerId: student.user.id, memberIds: [] },
    );
    await ctx.services.eventBus.publish(
      labId,
      'lab.progress',
      { current: `Create VM ${vault.name}` },
      { ownerId: student.user.id, memberIds: [] },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.close();
    expect(received.length).toBeGreaterThan(3);
    expect(received.some((m) => m.includes('(lab infrastructure)'))).toBe(true);
    assertClean('event socket', received.join('\n'));
    expect(received.join('\n')).not.toContain(vault.id);
  });
});
