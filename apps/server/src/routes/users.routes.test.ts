import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, createUser, login, signedIn, type TestContext } from '../test-support/test-app.js';

describe('users routes (admin)', () => {
  let ctx: TestContext;
  let headers: Record<string, string>;
  let adminId: string;
  beforeEach(async () => {
    ctx = await createTestApp();
    const admin = await signedIn(ctx, 'admin');
    headers = admin.headers;
    adminId = admin.user.id;
  });
  afterEach(() => ctx.close());

  const post = (url: string, payload: object) => ctx.app.inject({ method: 'POST', url, payload, headers });
  const patch = (url: string, payload: object) => ctx.app.inject({ method: 'PATCH', url, payload, headers });

  it('creates a user who can then sign in, and refuses a duplicate username whatever its case', async () => {
    const created = await post('/api/v1/users', {
      username: 'Student1',
      password: 'a good password',
      role: 'student',
      email: 's1@example.org',
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ username: 'Student1', role: 'student', email: 's1@example.org', disabled: false });
    await login(ctx, 'student1', 'a good password');
    const duplicate = await post('/api/v1/users', { username: 'STUDENT1', password: 'a good password', role: 'student' });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json().error.code).toBe('conflict');
  });

  it('lists with paging, search and role filter', async () => {
    for (const name of ['ann', 'andy', 'bert', 'carl']) await createUser(ctx, name === 'bert' ? 'instructor' : 'student', name);
    const page = await ctx.app.inject({ url: '/api/v1/users?limit=2&offset=0', headers });
    expect(page.json()).toMatchObject({ total: 5, limit: 2, offset: 0 });
    expect(page.json().items).toHaveLength(2);
    const search = await ctx.app.inject({ url: '/api/v1/users?search=an', headers });
    // The signed-in admin's random name may contain "an" too: leave it out.
    const found = search.json().items.filter((u: { id: string }) => u.id !== adminId);
    expect(found.map((u: { username: string }) => u.username)).toEqual(['andy', 'ann']);
    const instructors = await ctx.app.inject({ url: '/api/v1/users?role=instructor', headers });
    expect(instructors.json().items.map((u: { username: string }) => u.username)).toEqual(['bert']);
    const wildcard = await ctx.app.inject({ url: '/api/v1/users?search=%25', headers });
    expect(wildcard.json().total).toBe(0);
  });

  it('changes a role, disables (ending sessions and sign-in) and re-enables', async () => {
    const dan = await createUser(ctx, 'student', 'dan');
    const { token, cookie } = await login(ctx, 'dan', dan.password);
    expect((await patch(`/api/v1/users/${dan.id}`, { role: 'instructor' })).json().role).toBe('instructor');
    const disabled = await patch(`/api/v1/users/${dan.id}`, { disabled: true });
    expect(disabled.json().disabled).toBe(true);
    expect((await ctx.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    expect((await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { ctp_refresh: cookie } })).statusCode).toBe(401);
    const refused = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'dan', password: dan.password },
    });
    expect(refused.statusCode).toBe(401);
    await patch(`/api/v1/users/${dan.id}`, { disabled: false });
    await login(ctx, 'dan', dan.password);
  });

  it('resets a password: the old one stops working, the new one works', async () => {
    const eve = await createUser(ctx, 'student', 'eve');
    const reset = await post(`/api/v1/users/${eve.id}/password`, { password: 'brand new secret' });
    expect(reset.statusCode).toBe(204);
    const old = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'eve', password: eve.password } });
    expect(old.statusCode).toBe(401);
    await login(ctx, 'eve', 'brand new secret');
  });

  it('will not demote or disable the last active admin', async () => {
    const demote = await patch(`/api/v1/users/${adminId}`, { role: 'student' });
    expect(demote.statusCode).toBe(409);
    expect((await patch(`/api/v1/users/${adminId}`, { disabled: true })).statusCode).toBe(409);
    const second = await createUser(ctx, 'admin');
    expect((await patch(`/api/v1/users/${second.id}`, { disabled: true })).statusCode).toBe(200);
  });

  it('answers 404 for an unknown user and 400 for a malformed id', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await patch(`/api/v1/users/${missing}`, { role: 'student' })).statusCode).toBe(404);
    expect((await ctx.app.inject({ url: `/api/v1/users/${missing}`, headers })).statusCode).toBe(404);
    const malformed = await ctx.app.inject({ url: '/api/v1/users/not-a-uuid', headers });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.details[0].field).toBe('params.id');
  });

  it('creates the first admin once, with the configured password', async () => {
    await ctx.services.repositories.users.update(adminId, { role: 'student' });
    const first = await ctx.services.users.ensureFirstAdmin('configured pw 123');
    expect(first).toEqual({ password: 'configured pw 123', generated: false });
    await login(ctx, 'admin', 'configured pw 123');
    expect(await ctx.services.users.ensureFirstAdmin(undefined)).toBeUndefined();
  });

  it('generates a first admin password when none is configured', async () => {
    await ctx.services.repositories.users.update(adminId, { role: 'student' });
    const first = await ctx.services.users.ensureFirstAdmin(undefined);
    expect(first?.generated).toBe(true);
    expect(first!.password.length).toBeGreaterThanOrEqual(16);
    await login(ctx, 'admin', first!.password);
  });
});
