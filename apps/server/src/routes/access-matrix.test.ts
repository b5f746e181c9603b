import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '@ctp/contracts';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, createUser, login, signedIn, type TestContext } from '../test-support/test-app.js';

type Caller = 'anonymous' | Role;
const CALLERS: Caller[] = ['anonymous', 'student', 'instructor', 'admin'];

interface Fixture {
  ctx: TestContext;
  /** A user none of the callers is, to act upon (and the owner of the labs acted upon). */
  otherUserId: string;
  /** A draft template of the instructor caller. */
  draftTemplateId: string;
  publishedTemplateId: string;
  /** The instructor caller, who teaches the classes acted upon. */
  instructorId: string;
  passwords: Record<Role, { username: string; password: string }>;
}

interface Entry {
  /** Builds the request (making whatever it acts upon); the caller's token is added by the test. */
  request: (f: Fixture, caller: Caller) => Promise<{ url: string; payload?: object }> | { url: string; payload?: object };
  expect: Record<Caller, number>;
  /** The call ends the caller's sessions: the test signs the caller in again after it. */
  endsSession?: boolean;
}

/** Labs and VMs belong to another student, taught by the instructor caller: other students do not even see them. */
const othersLab = (ok: number) => ({ anonymous: 401, student: 404, instructor: ok, admin: ok });
const staffOnly = (ok: number) => ({ anonymous: 401, student: 403, instructor: ok, admin: ok });
/** Acting on a lab's tasks is for the lab's own users: staff may look but not answer for them. */
const labUsersOnly = { anonymous: 401, student: 404, instructor: 403, admin: 403 };
/** A class taught by the instructor caller (no student caller is enrolled in it). */
const freshClass = async (f: Fixture) =>
  (await f.ctx.services.repositories.classes.create({ name: 'Class', description: '', createdBy: f.instructorId })).id;
/** An open assignment of a fresh class of the instructor caller. */
const freshAssignment = async (f: Fixture) =>
  (
    await f.ctx.services.repositories.assignments.create({
      classId: await freshClass(f),
      templateId: f.publishedTemplateId,
      opensAt: new Date(Date.now() - 60_000),
      closesAt: new Date(Date.now() + 3600_000),
      labLifetimeMinutes: 30,
    })
  ).id;
const freshLab = async (f: Fixture, status: 'running' | 'stopped' = 'running') => makeLab(f.ctx, f.otherUserId, status);

/** The id of the test app's own host (registered on first use). */
const localHost = async (f: Fixture) => (await f.ctx.services.hosts.ensureLocal())!;

/** A library image record (no files: the routes under test only read and change metadata). */
const libraryImage = (f: Fixture) =>
  f.ctx.services.repositories.images.insert({
    name: `img-${counter++}`,
    kind: 'disk',
    sourceFormat: 'qcow2',
    files: { disk: 'disk.qcow2' },
  });

/** A fresh published template (verifying one twice at once is refused). */
const publishedTemplate = (f: Fixture) =>
  f.ctx.services.repositories.templates.create({
    name: `Matrix ${unique()}`,
    description: '',
    config: DEMO_TEMPLATE,
    source: '',
    ownerId: null,
    status: 'published',
  });

/** An open help request on another student's fresh lab. */
const helpRequest = async (f: Fixture) => {
  const { lab } = await freshLab(f);
  return (await f.ctx.services.repositories.help.create({ labId: lab.id, userId: f.otherUserId, message: 'stuck' }))!.id;
};

let counter = 0;
const unique = () => `user${Date.now().toString(36)}${counter++}`;
const everyone = (status: number) => ({ anonymous: status, student: status, instructor: status, admin: status });
const adminOnly = (ok: number) => ({ anonymous: 401, student: 403, instructor: 403, admin: ok });
const signedInOnly = (ok: number) => ({ anonymous: 401, student: ok, instructor: ok, admin: ok });

/**
 * Every endpoint × every kind of caller → the status it must answer. A route the app serves
 * without an entry here fails the test, so new endpoints must state who may call them.
 */
const MATRIX: Record<string, Entry> = {
  'GET /healthz': { request: () => ({ url: '/healthz' }), expect: everyone(200) },
  'GET /readyz': { request: () => ({ url: '/readyz' }), expect: everyone(200) },
  'GET /metrics': { request: () => ({ url: '/metrics' }), expect: everyone(200) },
  'GET /api/openapi.json': { request: () => ({ url: '/api/openapi.json' }), expect: everyone(200) },
  'POST /api/v1/auth/login': {
    request: (f, caller) => ({
      url: '/api/v1/auth/login',
      payload: caller === 'anonymous' ? { username: 'nobody', password: 'wrong-password' } : f.passwords[caller],
    }),
    expect: { anonymous: 401, student: 200, instructor: 200, admin: 200 },
  },
  'POST /api/v1/auth/refresh': { request: () => ({ url: '/api/v1/auth/refresh' }), expect: everyone(401) },
  'POST /api/v1/auth/logout': { request: () => ({ url: '/api/v1/auth/logout' }), expect: everyone(204) },
  'POST /api/v1/auth/logout-all': { request: () => ({ url: '/api/v1/auth/logout-all' }), expect: signedInOnly(204), endsSession: true },
  'GET /api/v1/auth/methods': { request: () => ({ url: '/api/v1/auth/methods' }), expect: everyone(200) },
  // Single sign-on is not configured here (see oidc.routes.test.ts for it configured).
  'GET /api/v1/auth/oidc/login': { request: () => ({ url: '/api/v1/auth/oidc/login' }), expect: everyone(404) },
  'GET /api/v1/auth/oidc/callback': { request: () => ({ url: '/api/v1/auth/oidc/callback?code=x&state=y' }), expect: everyone(404) },
  'GET /api/v1/auth/me': { request: () => ({ url: '/api/v1/auth/me' }), expect: signedInOnly(200) },
  'GET /api/v1/users': { request: () => ({ url: '/api/v1/users' }), expect: adminOnly(200) },
  'GET /api/v1/quotas': { request: () => ({ url: '/api/v1/quotas' }), expect: adminOnly(200) },
  'PUT /api/v1/quotas/:scope/:subject': {
    request: (f) => ({ url: `/api/v1/quotas/user/${f.otherUserId}`, payload: { maxLabs: 100 } }),
    expect: adminOnly(200),
  },
  'DELETE /api/v1/quotas/:scope/:subject': {
    request: async (f) => {
      await f.ctx.services.repositories.quotas.upsert('user', f.otherUserId, { maxLabs: 100 });
      return { url: `/api/v1/quotas/user/${f.otherUserId}` };
    },
    expect: adminOnly(204),
  },
  // One's own limits and use only: there is no way to name another user.
  'GET /api/v1/me/quota': { request: () => ({ url: '/api/v1/me/quota' }), expect: signedInOnly(200) },
  'POST /api/v1/users': {
    request: () => ({ url: '/api/v1/users', payload: { username: unique(), password: 'long enough pw', role: 'student' } }),
    expect: adminOnly(201),
  },
  'GET /api/v1/users/:id': { request: (f) => ({ url: `/api/v1/users/${f.otherUserId}` }), expect: adminOnly(200) },
  'PATCH /api/v1/users/:id': {
    request: (f) => ({ url: `/api/v1/users/${f.otherUserId}`, payload: { role: 'instructor' } }),
    expect: adminOnly(200),
  },
  'POST /api/v1/users/:id/password': {
    request: (f) => ({ url: `/api/v1/users/${f.otherUserId}/password`, payload: { password: 'another long pw' } }),
    expect: adminOnly(204),
  },
  'GET /api/v1/audit': { request: () => ({ url: '/api/v1/audit' }), expect: adminOnly(200) },

  'GET /api/v1/templates/schema': { request: () => ({ url: '/api/v1/templates/schema' }), expect: everyone(200) },
  'GET /api/v1/templates': { request: () => ({ url: '/api/v1/templates' }), expect: signedInOnly(200) },
  'POST /api/v1/templates': { request: () => ({ url: '/api/v1/templates', payload: { config: DEMO_TEMPLATE } }), expect: staffOnly(201) },
  'GET /api/v1/templates/:id': { request: (f) => ({ url: `/api/v1/templates/${f.draftTemplateId}` }), expect: othersLab(200) },
  'PUT /api/v1/templates/:id': {
    request: (f) => ({ url: `/api/v1/templates/${f.draftTemplateId}`, payload: { config: DEMO_TEMPLATE } }),
    expect: staffOnly(200),
  },
  'POST /api/v1/templates/:id/publish': {
    request: (f) => ({ url: `/api/v1/templates/${f.draftTemplateId}/publish` }),
    expect: staffOnly(200),
  },
  'POST /api/v1/templates/:id/archive': {
    request: (f) => ({ url: `/api/v1/templates/${f.draftTemplateId}/archive` }),
    expect: staffOnly(200),
  },
  'GET /api/v1/templates/:id/warm-pool': {
    request: (f) => ({ url: `/api/v1/templates/${f.draftTemplateId}/warm-pool` }),
    expect: staffOnly(200),
  },
  'PUT /api/v1/templates/:id/warm-pool': {
    request: (f) => ({ url: `/api/v1/templates/${f.draftTemplateId}/warm-pool`, payload: { size: 0 } }),
    expect: staffOnly(200),
  },
  'POST /api/v1/templates/import/ctfd': {
    request: () => ({ url: '/api/v1/templates/import/ctfd', payload: { challenge: 'name: Warm Up\nvalue: 10\nflags:\n  - "flag{x}"\n' } }),
    expect: staffOnly(200),
  },
  'GET /api/v1/templates/:id/export': {
    request: (f) => ({ url: `/api/v1/templates/${f.publishedTemplateId}/export` }),
    // The source holds settings, hidden VMs, answers and checks.
    expect: staffOnly(200),
  },

  'POST /api/v1/templates/:id/verify': {
    request: async (f) => ({ url: `/api/v1/templates/${(await publishedTemplate(f)).id}/verify` }),
    expect: staffOnly(202),
  },
  'GET /api/v1/templates/:id/verification': {
    request: async (f) => {
      const template = await publishedTemplate(f);
      await f.ctx.services.repositories.verifications.create({ templateId: template.id, templateVersion: 1, status: 'passed' });
      return { url: `/api/v1/templates/${template.id}/verification` };
    },
    // Verifications name solutions' outcomes: staff only.
    expect: staffOnly(200),
  },
  'POST /api/v1/labs/:id/help': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/help`, payload: { message: 'stuck' } }),
    // Asking is for the lab's own users.
    expect: labUsersOnly,
  },
  'GET /api/v1/labs/:id/help': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/help` }),
    expect: othersLab(200),
  },
  'GET /api/v1/help-requests': { request: () => ({ url: '/api/v1/help-requests' }), expect: staffOnly(200) },
  'POST /api/v1/help-requests/:id/take': {
    request: async (f) => ({ url: `/api/v1/help-requests/${await helpRequest(f)}/take` }),
    expect: othersLab(200),
  },
  'POST /api/v1/help-requests/:id/resolve': {
    request: async (f) => ({ url: `/api/v1/help-requests/${await helpRequest(f)}/resolve` }),
    expect: othersLab(200),
  },
  'POST /api/v1/labs': {
    request: (f) => ({ url: '/api/v1/labs', payload: { templateId: f.publishedTemplateId } }),
    expect: signedInOnly(202),
  },
  'GET /api/v1/labs': { request: () => ({ url: '/api/v1/labs' }), expect: signedInOnly(200) },
  'GET /api/v1/labs/:id': { request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}` }), expect: othersLab(200) },
  'POST /api/v1/labs/:id/start': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f, 'stopped')).lab.id}/start` }),
    expect: othersLab(202),
  },
  'POST /api/v1/labs/:id/stop': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/stop` }),
    expect: othersLab(202),
  },
  'POST /api/v1/labs/:id/reset': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/reset` }),
    expect: othersLab(202),
  },
  'DELETE /api/v1/labs/:id': { request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}` }), expect: othersLab(202) },
  'POST /api/v1/labs/:id/extend': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/extend`, payload: { minutes: 10 } }),
    expect: othersLab(200),
  },
  'POST /api/v1/labs/:id/members': {
    request: async (f) => ({
      url: `/api/v1/labs/${(await freshLab(f)).lab.id}/members`,
      payload: { userId: (await createUser(f.ctx, 'student')).id },
    }),
    expect: othersLab(200),
  },
  'DELETE /api/v1/labs/:id/members/:userId': {
    request: async (f) => {
      const { lab } = await freshLab(f);
      const member = await createUser(f.ctx, 'student');
      await f.ctx.services.repositories.labs.addMember(lab.id, member.id);
      return { url: `/api/v1/labs/${lab.id}/members/${member.id}` };
    },
    expect: othersLab(200),
  },
  'GET /api/v1/labs/:id/tasks': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/tasks` }),
    expect: othersLab(200),
  },
  'POST /api/v1/labs/:id/tasks/:taskId/answers': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/tasks/scan/answers`, payload: { answer: '22' } }),
    expect: labUsersOnly,
  },
  'POST /api/v1/labs/:id/tasks/:taskId/hints/:hintId': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/tasks/scan/hints/probe` }),
    expect: labUsersOnly,
  },
  'POST /api/v1/labs/:id/tasks/:taskId/check': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/tasks/banner-file/check` }),
    expect: labUsersOnly,
  },
  'POST /api/v1/labs/:id/tasks/:taskId/solution': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/tasks/scan/solution` }),
    expect: labUsersOnly,
  },
  'GET /api/v1/labs/:id/secrets': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/secrets` }),
    expect: othersLab(200),
  },
  'GET /api/v1/labs/:id/task-activity': {
    request: async (f) => ({ url: `/api/v1/labs/${(await freshLab(f)).lab.id}/task-activity` }),
    expect: othersLab(200),
  },
  'POST /api/v1/vms/:id/start': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/start` }),
    expect: othersLab(204),
  },
  'POST /api/v1/vms/:id/stop': { request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/stop` }), expect: othersLab(204) },
  'POST /api/v1/vms/:id/reboot': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/reboot` }),
    expect: othersLab(204),
  },
  'GET /api/v1/vms/:id/snapshots': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/snapshots` }),
    expect: othersLab(200),
  },
  'POST /api/v1/vms/:id/snapshots': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/snapshots`, payload: { name: 'mine' } }),
    expect: othersLab(201),
  },
  'POST /api/v1/vms/:id/snapshots/:name/revert': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/snapshots/initial/revert` }),
    expect: othersLab(204),
  },

  'POST /api/v1/vms/:id/console-tickets': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/console-tickets`, payload: { kind: 'serial' } }),
    expect: othersLab(201),
  },
  'GET /api/v1/vms/:id/console/:kind': {
    // Without a WebSocket upgrade (inject cannot make one) everyone gets 426, before any ticket
    // is looked at; upgrades with bad tickets are refused 401 in consoles.routes.test.ts.
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/console/serial?ticket=nope` }),
    expect: everyone(426),
  },

  'GET /api/v1/system': { request: () => ({ url: '/api/v1/system' }), expect: staffOnly(200) },
  'GET /api/v1/system/admission': { request: () => ({ url: '/api/v1/system/admission' }), expect: staffOnly(200) },
  'PUT /api/v1/system/admission': {
    request: () => ({ url: '/api/v1/system/admission', payload: { cpuOvercommit: 16, memoryOvercommit: 1, reservedMemoryMiB: 512 } }),
    expect: adminOnly(200),
  },
  'GET /api/v1/hosts': { request: () => ({ url: '/api/v1/hosts' }), expect: adminOnly(200) },
  'GET /api/v1/hosts/:id': { request: async (f) => ({ url: `/api/v1/hosts/${await localHost(f)}` }), expect: adminOnly(200) },
  'POST /api/v1/hosts/:id/drain': { request: async (f) => ({ url: `/api/v1/hosts/${await localHost(f)}/drain` }), expect: adminOnly(200) },
  'POST /api/v1/hosts/:id/undrain': {
    request: async (f) => ({ url: `/api/v1/hosts/${await localHost(f)}/undrain` }),
    expect: adminOnly(200),
  },
  'GET /api/v1/system/stats': { request: () => ({ url: '/api/v1/system/stats' }), expect: staffOnly(200) },
  // Only an embedded database is dumped through the API (a server is backed up with pg_dump).
  'GET /api/v1/system/database-dump': {
    request: () => ({ url: '/api/v1/system/database-dump' }),
    expect: adminOnly(process.env.DATABASE_URL ? 409 : 200),
  },

  'GET /api/v1/images': { request: () => ({ url: '/api/v1/images' }), expect: staffOnly(200) },
  // Uploads are raw bodies (images.routes.test.ts uploads real files); a JSON body is refused.
  'POST /api/v1/images': {
    request: () => ({ url: '/api/v1/images?name=some-image&format=qcow2', payload: {} }),
    expect: { anonymous: 401, student: 403, instructor: 415, admin: 415 },
  },
  'GET /api/v1/images/:id': { request: () => ({ url: '/api/v1/images/00000000-0000-4000-8000-000000000001' }), expect: staffOnly(200) },
  'PATCH /api/v1/images/:id': {
    request: async (f) => ({ url: `/api/v1/images/${(await libraryImage(f)).id}`, payload: { notes: 'checked' } }),
    expect: staffOnly(200),
  },
  // The VM runs a kernel image, which has no disk to save: staff get past the policy to the 409.
  'POST /api/v1/vms/:id/images': {
    request: async (f) => ({ url: `/api/v1/vms/${(await freshLab(f)).vm.id}/images`, payload: { name: `saved-${counter++}` } }),
    expect: { anonymous: 401, student: 403, instructor: 409, admin: 409 },
  },
  'DELETE /api/v1/images/:id': { request: async (f) => ({ url: `/api/v1/images/${(await libraryImage(f)).id}` }), expect: adminOnly(204) },
  'POST /api/v1/classes': { request: () => ({ url: '/api/v1/classes', payload: { name: 'Networks 101' } }), expect: staffOnly(201) },
  'GET /api/v1/classes': { request: () => ({ url: '/api/v1/classes' }), expect: signedInOnly(200) },
  'GET /api/v1/classes/:id': { request: async (f) => ({ url: `/api/v1/classes/${await freshClass(f)}` }), expect: othersLab(200) },
  'PATCH /api/v1/classes/:id': {
    request: async (f) => ({ url: `/api/v1/classes/${await freshClass(f)}`, payload: { archived: true } }),
    expect: othersLab(200),
  },
  'POST /api/v1/classes/:id/instructors': {
    request: async (f) => ({
      url: `/api/v1/classes/${await freshClass(f)}/instructors`,
      payload: { username: (await createUser(f.ctx, 'instructor')).username },
    }),
    expect: othersLab(200),
  },
  'DELETE /api/v1/classes/:id/instructors/:username': {
    request: async (f) => {
      const id = await freshClass(f);
      const coTeacher = await createUser(f.ctx, 'instructor');
      await f.ctx.services.repositories.classes.addInstructor(id, coTeacher.id);
      return { url: `/api/v1/classes/${id}/instructors/${coTeacher.username}` };
    },
    expect: othersLab(200),
  },
  'POST /api/v1/classes/:id/announcements': {
    request: async (f) => ({ url: `/api/v1/classes/${await freshClass(f)}/announcements`, payload: { message: 'Ten minutes left' } }),
    expect: othersLab(201),
  },
  'GET /api/v1/announcements': { request: () => ({ url: '/api/v1/announcements' }), expect: signedInOnly(200) },
  'POST /api/v1/classes/:id/students': {
    request: async (f) => ({
      url: `/api/v1/classes/${await freshClass(f)}/students`,
      payload: { usernames: [(await createUser(f.ctx, 'student')).username] },
    }),
    expect: othersLab(200),
  },
  'DELETE /api/v1/classes/:id/students/:username': {
    request: async (f) => {
      const id = await freshClass(f);
      const student = await createUser(f.ctx, 'student');
      await f.ctx.services.repositories.classes.enrol(id, [], [student.id]);
      return { url: `/api/v1/classes/${id}/students/${student.username}` };
    },
    expect: othersLab(200),
  },

  'POST /api/v1/classes/:id/assignments': {
    request: async (f) => ({
      url: `/api/v1/classes/${await freshClass(f)}/assignments`,
      payload: {
        templateId: f.publishedTemplateId,
        opensAt: new Date().toISOString(),
        closesAt: new Date(Date.now() + 3600_000).toISOString(),
        labLifetimeMinutes: 30,
      },
    }),
    expect: othersLab(201),
  },
  'GET /api/v1/classes/:id/assignments': {
    request: async (f) => ({ url: `/api/v1/classes/${await freshClass(f)}/assignments` }),
    expect: othersLab(200),
  },
  'GET /api/v1/assignments': { request: () => ({ url: '/api/v1/assignments' }), expect: signedInOnly(200) },
  'GET /api/v1/assignments/:id': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}` }),
    expect: othersLab(200),
  },
  'PATCH /api/v1/assignments/:id': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}`, payload: { scoreboard: true } }),
    expect: othersLab(200),
  },
  // Only the class's enrolled students start labs of it (the student caller is not enrolled: unseen).
  'POST /api/v1/assignments/:id/lab': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}/lab` }),
    expect: { anonymous: 401, student: 404, instructor: 403, admin: 403 },
  },
  'POST /api/v1/assignments/:id/provision': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}/provision` }),
    expect: othersLab(202),
  },
  'GET /api/v1/assignments/:id/grades.csv': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}/grades.csv` }),
    expect: othersLab(200),
  },
  'GET /api/v1/assignments/:id/progress': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}/progress` }),
    expect: othersLab(200),
  },
  'GET /api/v1/assignments/:id/scoreboard': {
    request: async (f) => ({ url: `/api/v1/assignments/${await freshAssignment(f)}/scoreboard` }),
    expect: othersLab(200),
  },

  'GET /api/v1/events': { request: () => ({ url: '/api/v1/events' }), expect: signedInOnly(200) },
  'POST /api/v1/events/tickets': { request: () => ({ url: '/api/v1/events/tickets' }), expect: signedInOnly(201) },
  // Without a valid ticket the WebSocket is refused before the upgrade, whoever asks.
  // As the console: 426 without an upgrade; upgrades with bad tickets: events.routes.test.ts.
  'GET /api/v1/events/stream': { request: () => ({ url: '/api/v1/events/stream?ticket=nope' }), expect: everyone(426) },
};

describe('access-control matrix', () => {
  let fixture: Fixture;
  const tokens: Partial<Record<Caller, string>> = {};

  beforeAll(async () => {
    const ctx = await createTestApp({ maxLabsPerUser: 100 }, { background: true });
    const passwords = {} as Fixture['passwords'];
    for (const role of ['student', 'instructor', 'admin'] as const) {
      const session = await signedIn(ctx, role);
      tokens[role] = session.token;
      passwords[role] = { username: session.user.username, password: session.user.password };
    }
    const other = await createUser(ctx, 'student');
    const instructorId = (await ctx.services.repositories.users.findByUsername(passwords.instructor.username))!.id;
    const draft = await ctx.services.repositories.templates.create({
      name: 'Draft',
      description: '',
      config: DEMO_TEMPLATE,
      source: '',
      ownerId: instructorId,
    });
    const published = await ctx.services.templates.ensureDemoTemplate();
    // The instructor caller teaches the other student: labs of students they do not teach are
    // unseen (404), as class-isolation.test.ts proves.
    const taught = await ctx.services.repositories.classes.create({ name: 'Taught', description: '', createdBy: instructorId });
    await ctx.services.repositories.classes.enrol(taught.id, [], [other.id]);
    fixture = { ctx, otherUserId: other.id, draftTemplateId: draft.id, publishedTemplateId: published.id, instructorId, passwords };
  });
  afterAll(() => fixture.ctx.close());

  it('has an entry for every route the app serves', () => {
    const served = fixture.ctx.app.registeredRoutes
      // Swagger UI's static files and the CORS preflight route are not API endpoints.
      .filter((r) => !r.url.startsWith('/api/docs') && !(r.method === 'OPTIONS' && r.url === '*'))
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(served).toEqual(Object.keys(MATRIX).sort());
  });

  for (const [route, entry] of Object.entries(MATRIX)) {
    const [method] = route.split(' ') as [string];
    for (const caller of CALLERS) {
      it(`${route} as ${caller} → ${entry.expect[caller]}`, async () => {
        const { url, payload } = await entry.request(fixture, caller);
        const token = tokens[caller];
        const response = await fixture.ctx.app.inject({
          method: method as 'GET',
          url,
          ...(payload ? { payload } : {}),
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        expect(response.statusCode, response.body).toBe(entry.expect[caller]);
        if (entry.endsSession && caller !== 'anonymous') {
          tokens[caller] = (await login(fixture.ctx, fixture.passwords[caller].username, fixture.passwords[caller].password)).token;
        }
      });
    }
  }
});
