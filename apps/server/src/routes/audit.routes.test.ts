import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

describe('audit trail', () => {
  let ctx: TestContext;
  let headers: Record<string, string>;
  let adminName: string;
  beforeEach(async () => {
    ctx = await createTestApp();
    const admin = await signedIn(ctx, 'admin');
    headers = admin.headers;
    adminName = admin.user.username;
  });
  afterEach(() => ctx.close());

  const audit = async (query: string) => (await ctx.app.inject({ url: `/api/v1/audit?${query}`, headers })).json();

  it('records every mutating request with who, what, target, outcome, address and request id', async () => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { ...headers, 'x-request-id': 'req-42' },
      payload: { username: 'newbie', password: 'long password', role: 'student' },
    });
    const userId = created.json().id;
    await ctx.app.inject({ method: 'PATCH', url: `/api/v1/users/${userId}`, headers, payload: { role: 'nope' } });
    const { items } = await audit('action=user.*');
    expect(items.map((e: { action: string; outcome: string }) => [e.action, e.outcome])).toEqual([
      ['user.update', 'failure'],
      ['user.create', 'success'],
    ]);
    expect(items[1]).toMatchObject({
      actorUsername: adminName,
      targetType: 'user',
      targetId: userId,
      statusCode: 201,
      requestId: 'req-42',
      ip: '127.0.0.1',
    });
    expect(items[1].details).toMatchObject({ username: 'newbie', role: 'student' });
    expect(JSON.stringify(items)).not.toContain('long password');
  });

  it('records denied attempts and filters by actor, outcome and time', async () => {
    const student = await signedIn(ctx, 'student');
    await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: student.headers,
      payload: { username: 'x1', password: 'long password', role: 'admin' },
    });
    const denied = await audit(`outcome=denied&actor=${student.user.username}`);
    expect(denied.items).toHaveLength(1);
    expect(denied.items[0]).toMatchObject({ action: 'user.create', statusCode: 403, actorId: student.user.id });
    const logins = await audit('action=auth.login&outcome=success');
    expect(logins.total).toBe(2);
    const future = await audit(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(future.total).toBe(0);
  });

  it('refuses bad filters with 400', async () => {
    const response = await ctx.app.inject({ url: '/api/v1/audit?outcome=maybe', headers });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.details[0].field).toMatch(/^querystring\.outcome/);
  });
});
