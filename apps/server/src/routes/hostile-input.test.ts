import { HypervisorError } from '@ctp/hypervisor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, createUser, signedIn, type TestContext } from '../test-support/test-app.js';

/** What an error body must never carry: SQL, a stack, a file path, a driver VM name, a NUL. */
export const LEAK =
  /insert into|select .* from|"audit_events"|\bat .*\(.*:\d+:\d+\)|node_modules|\/src\/|\/var\/|\/tmp\/|l[0-9a-f]{16}-|\\u0000/i;

describe('hostile input', () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  beforeAll(async () => {
    ctx = await createTestApp();
    admin = await signedIn(ctx, 'admin');
  });
  afterAll(() => ctx.close());

  const auditRows = async () => (await ctx.services.repositories.audit.list({ limit: 200, offset: 0 })).rows;
  const expectClean4xx = (response: { statusCode: number; body: string }, field?: string) => {
    expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
    expect(response.statusCode, response.body).toBeLessThan(500);
    expect(response.body).not.toMatch(LEAK);
    if (field) expect(JSON.parse(response.body).error.details.map((d: { field: string }) => d.field)).toContain(field);
  };

  it('answers a NUL in a path parameter without a token with a 4xx and records it, sanitized, in the audit trail', async () => {
    const response = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs/abc%00/start', headers: { 'x-request-id': 'nul-probe-1' } });
    expectClean4xx(response, 'params.id');
    const event = (await auditRows()).find((e) => e.requestId === 'nul-probe-1');
    expect(event).toMatchObject({ action: 'lab.start', statusCode: response.statusCode, outcome: 'failure' });
    expect(event!.targetId).toBe('abc');
  });

  it('answers a badly encoded or very long path parameter with the error body, and records it', async () => {
    const bad = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs/%E0%A4%A/start', headers: { 'x-request-id': 'bad-url-1' } });
    expectClean4xx(bad);
    expect(bad.json().error.code).toBe('bad_url');
    expect((await auditRows()).find((e) => e.requestId === 'bad-url-1')).toMatchObject({ action: 'http.bad_url', statusCode: 400 });
    const long = await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${'x'.repeat(5000)}/start`, headers: admin.headers });
    expectClean4xx(long, 'params.id');
  });

  it('refuses NUL bytes in query strings, login names, template titles, YAML text and JSON keys, naming the field', async () => {
    const h = admin.headers;
    expectClean4xx(await ctx.app.inject({ url: '/api/v1/users?search=a%00b', headers: h }), 'querystring.search');
    expectClean4xx(await ctx.app.inject({ url: '/api/v1/audit?actor=%00', headers: h }), 'querystring.actor');
    expectClean4xx(await ctx.app.inject({ url: '/api/v1/templates?search=%00', headers: h }), 'querystring.search');
    const login = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'adm\u0000in', password: 'whatever-pw' },
    });
    expectClean4xx(login, 'body.username');
    const title = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: h,
      payload: { config: { ...DEMO_TEMPLATE, title: 'Lab\u0000' } },
    });
    expectClean4xx(title, 'body.config.title');
    const yaml = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...h, 'content-type': 'application/yaml' },
      payload: stringify({ ...DEMO_TEMPLATE, title: 'Lab' }).replace('title: Lab', 'title: "Lab\0"'),
    });
    expectClean4xx(yaml, 'body.config');
    // A YAML escape makes a NUL only once parsed: the template validation refuses it, naming the field and line.
    for (const escape of ['\\0', '\\x00', '\\u0000']) {
      const escaped = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/templates',
        headers: { ...h, 'content-type': 'application/yaml' },
        payload: stringify({ ...DEMO_TEMPLATE, title: 'Lab' }).replace('title: Lab', `title: "Lab${escape}"`),
      });
      expectClean4xx(escaped);
      expect(escaped.json().error.details).toEqual([expect.objectContaining({ field: 'title', line: expect.any(Number) })]);
    }
    const key = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { ...h, 'content-type': 'application/json' },
      payload: '{"username":"x-user","password":"long enough pw","role":"student","\\u0000":1}',
    });
    expectClean4xx(key);
    expect((await ctx.services.repositories.templates.list({ limit: 1, offset: 0 })).total).toBe(0);
  });

  it('stores any audit record, however hostile its values, printable and bounded', async () => {
    let deep: Record<string, unknown> = { end: 'x' };
    for (let i = 0; i < 50; i++) deep = { deep };
    await ctx.services.audit.record({
      actor: null,
      action: 'probe\u0000.\ud800act'.repeat(100),
      targetType: 'lab\u0000',
      targetId: `abc\u0000\udc00${'y'.repeat(10_000)}`,
      outcome: 'failure',
      statusCode: 400,
      ip: '1.2.3.4\u0000',
      requestId: 'audit-probe',
      details: {
        nul: 'a\u0000b',
        ['k\u0000']: 1,
        big: 10n as unknown as number,
        nan: Number.NaN,
        deep,
        list: Array(500).fill('z'),
        ['\ud800']: 'x',
      },
    });
    const row = (await auditRows()).find((e) => e.requestId === 'audit-probe')!;
    expect(row.targetType).toBe('lab');
    expect(row.targetId!.startsWith('abc\uFFFDyyy')).toBe(true);
    expect(row.targetId!.length).toBeLessThanOrEqual(201);
    expect(row.action.length).toBeLessThanOrEqual(201);
    expect(row.ip).toBe('1.2.3.4');
    expect(JSON.stringify(row.details)).not.toMatch(/\\u0000|\\ud800/);
    expect((row.details as { list: unknown[] }).list).toHaveLength(50);
  });

  it('refuses lone UTF-16 surrogates (no UTF-8 text holds them) in a login name, a body key and a template', async () => {
    for (const payload of [
      '{"username":"\\ud800x","password":"long enough pw"}',
      '{"username":"x\\udc00","password":"long enough pw"}',
      '{"username":"admin","password":"long enough pw","\\ud800":1}',
    ]) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json', 'x-request-id': 'surrogate-1' },
        payload,
      });
      expectClean4xx(response, 'body' + (payload.includes('"\\ud800":') ? '' : '.username'));
    }
    const yaml = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...admin.headers, 'content-type': 'application/yaml' },
      payload: stringify({ ...DEMO_TEMPLATE, title: 'Lab' }).replace('title: Lab', 'title: "Lab\\ud800"'),
    });
    expectClean4xx(yaml);
    expect(yaml.json().error.details).toEqual([expect.objectContaining({ field: 'title' })]);
    // A well-formed pair is fine.
    const pair = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'x\u{1F600}', password: 'long enough pw' },
    });
    expect(pair.statusCode, pair.body).toBe(401);
  });

  it('refuses 5,000-level nested JSON in a task field', async () => {
    const nested = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const config = JSON.stringify({ ...DEMO_TEMPLATE, tasks: [{ id: 'deep', title: 'Deep', extra: '__NESTED__' }] });
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      payload: `{"config":${config.replace('"__NESTED__"', nested)}}`,
    });
    expectClean4xx(response);
    expect(response.json().error.details[0].field).toMatch(/^body\.config\.tasks\[0\]\.extra/);
  });

  it.each(['99999999999999999999', '1.5', '-1', 'abc', '9007199254740992', '%00'])(
    'refuses events?since=%s naming the field',
    async (since) => {
      expectClean4xx(await ctx.app.inject({ url: `/api/v1/events?since=${since}`, headers: admin.headers }), 'querystring.since');
    },
  );

  it.each(['2024-01-01T23:59:60Z', '0000-01-01T00:00:00Z', '0001-01-01T00:30:00+01:00', '2024-02-30T00:00:00Z'])(
    'refuses audit?since=%s (a date-time no Date or PostgreSQL can hold)',
    async (since) => {
      const response = await ctx.app.inject({ url: `/api/v1/audit?since=${encodeURIComponent(since)}`, headers: admin.headers });
      expectClean4xx(response, 'querystring.since');
    },
  );

  it('accepts events?since= up to the largest safe integer', async () => {
    const response = await ctx.app.inject({ url: `/api/v1/events?since=${Number.MAX_SAFE_INTEGER}`, headers: admin.headers });
    expect(response.statusCode, response.body).toBe(200);
  });

  it('keeps a plain X-Request-Id and replaces any other', async () => {
    const plain = await ctx.app.inject({ url: '/api/v1/health', headers: { 'x-request-id': 'abc.DEF_1-2' } });
    expect(plain.headers['x-request-id']).toBe('abc.DEF_1-2');
    for (const bad of ['a b', 'x'.repeat(65), 'id;drop', 'é', '<script>']) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'x-request-id': bad },
        payload: { username: 'nobody', password: 'wrong password' },
      });
      expect(response.headers['x-request-id']).not.toBe(bad);
      expect(response.headers['x-request-id']).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
      const stored = (await auditRows()).map((e) => e.requestId);
      expect(stored).not.toContain(bad);
    }
  });

  it('turns hypervisor failures into a generic message with the request id, never the driver names or paths', async () => {
    const owner = await createUser(ctx, 'student');
    const { vm } = await makeLab(ctx, owner.id, 'stopped');
    const original = ctx.driver.startVm.bind(ctx.driver);
    try {
      for (const error of [
        new HypervisorError('command_failed', `qemu: -drive file=/var/lib/ctp/vms/${vm.driverName}/disk.qcow2: Could not open`, {
          stderr: 'boom',
        }),
        new HypervisorError('invalid_state', `VM ${vm.driverName} is paused`),
        new Error(`connect ECONNREFUSED /tmp/ctp/${vm.driverName}.qmp`),
      ]) {
        ctx.driver.startVm = async () => {
          throw error;
        };
        const response = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/vms/${vm.id}/start`,
          headers: { ...admin.headers, 'x-request-id': 'hv-probe' },
        });
        expect(response.statusCode).toBeGreaterThanOrEqual(400);
        expect(response.body).not.toMatch(LEAK);
        expect(response.body).not.toContain(vm.driverName);
        if (response.statusCode >= 500) expect(response.json().error.message).toContain('hv-probe');
      }
    } finally {
      ctx.driver.startVm = original;
    }
  });

  it('answers an unexpected failure with a generic message and the request id, logging nothing to the client', async () => {
    const users = ctx.services.repositories.users;
    const original = users.list.bind(users);
    users.list = async () => {
      throw Object.assign(new Error('insert into "audit_events" ("id") values ($1) at /work/apps/server/src/x.ts:1:2'), {
        statusCode: 400,
      });
    };
    try {
      const response = await ctx.app.inject({ url: '/api/v1/users', headers: { ...admin.headers, 'x-request-id': 'boom-1' } });
      expect(response.statusCode).toBe(500);
      expect(response.json().error).toEqual({
        code: 'internal_error',
        message: 'Internal server error (request id boom-1)',
        requestId: 'boom-1',
      });
    } finally {
      users.list = original;
    }
  });

  it('refuses to add a member to a deleted or deleting lab', async () => {
    const owner = await createUser(ctx, 'student');
    const other = await createUser(ctx, 'student');
    for (const status of ['deleting', 'deleted'] as const) {
      const { lab } = await makeLab(ctx, owner.id, 'running');
      await ctx.services.repositories.labs.update(lab.id, { status });
      const before = await ctx.services.repositories.labs.memberIds(lab.id);
      const response = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/labs/${lab.id}/members`,
        headers: admin.headers,
        payload: { userId: other.id },
      });
      expect(response.statusCode, response.body).toBe(409);
      expect(await ctx.services.repositories.labs.memberIds(lab.id)).toEqual(before);
    }
  });
});
