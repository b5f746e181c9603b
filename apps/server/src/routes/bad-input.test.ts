import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

describe('bad input', () => {
  let ctx: TestContext;
  let headers: Record<string, string>;
  beforeAll(async () => {
    ctx = await createTestApp({ bodyLimitBytes: 64 * 1024 });
    headers = (await signedIn(ctx, 'admin')).headers;
  });
  afterAll(() => ctx.close());

  const userCount = async () => (await ctx.services.repositories.users.list({ limit: 1, offset: 0 })).total;
  const valid = { username: 'valid-user', password: 'long enough pw', role: 'student' };

  const cases: { name: string; payload: string | object; contentType?: string; status: number; code: string; field?: string }[] = [
    { name: 'a wrong type', payload: { ...valid, role: 42 }, status: 400, code: 'validation_failed', field: 'body.role' },
    {
      name: 'a number as string',
      payload: { ...valid, password: 12345678 },
      status: 400,
      code: 'validation_failed',
      field: 'body.password',
    },
    {
      name: 'a missing field',
      payload: { username: 'x-user', role: 'student' },
      status: 400,
      code: 'validation_failed',
      field: 'body.password',
    },
    { name: 'an unknown field', payload: { ...valid, isAdmin: true }, status: 400, code: 'validation_failed', field: 'body.isAdmin' },
    { name: 'an unknown role', payload: { ...valid, role: 'root' }, status: 400, code: 'validation_failed', field: 'body.role' },
    {
      name: 'a huge string',
      payload: { ...valid, username: 'a'.repeat(10_000) },
      status: 400,
      code: 'validation_failed',
      field: 'body.username',
    },
    { name: 'a bad email', payload: { ...valid, email: 'not-an-email' }, status: 400, code: 'validation_failed', field: 'body.email' },
    {
      name: 'a bad username',
      payload: { ...valid, username: '../etc/passwd' },
      status: 400,
      code: 'validation_failed',
      field: 'body.username',
    },
    { name: 'an array body', payload: '[1,2,3]', contentType: 'application/json', status: 400, code: 'validation_failed' },
    { name: 'malformed JSON', payload: '{"username": "x",', contentType: 'application/json', status: 400, code: 'invalid_json' },
    { name: 'an empty JSON body', payload: '', contentType: 'application/json', status: 400, code: 'invalid_json' },
    {
      name: 'a body that is not JSON',
      payload: 'username=x',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      code: 'unsupported_media_type',
    },
    { name: 'an oversized body', payload: { ...valid, email: `${'a'.repeat(100_000)}@x.org` }, status: 413, code: 'payload_too_large' },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} with ${c.status}, writing nothing`, async () => {
      const before = await userCount();
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers: { ...headers, 'content-type': c.contentType ?? 'application/json' },
        payload: typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload),
      });
      expect(response.statusCode, response.body).toBe(c.status);
      const body = response.json();
      expect(body.error.code).toBe(c.code);
      expect(body.error.message).toEqual(expect.any(String));
      if (c.field) expect(body.error.details.map((d: { field: string }) => d.field)).toContain(c.field);
      expect(await userCount()).toBe(before);
    });
  }

  it('refuses bad query values and unknown query parameters', async () => {
    for (const query of ['limit=0', 'limit=abc', 'limit=100000', 'offset=-1', 'bogus=1', `search=${'x'.repeat(500)}`]) {
      const response = await ctx.app.inject({ url: `/api/v1/users?${query}`, headers });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
  });

  it('answers unknown routes with the error body', async () => {
    const response = await ctx.app.inject({ url: '/api/v1/nope', headers });
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toEqual({ code: 'not_found', message: 'No route GET /api/v1/nope' });
  });

  it('refuses a login with a huge password at validation, before the sign-in (which hashes) runs', async () => {
    // The sign-in service audits each attempt it checks against a user (target type "user");
    // a request refused before it is audited by the generic hook (target type "auth").
    const attempts = async () =>
      (await ctx.services.repositories.audit.list({ limit: 100, offset: 0, action: 'auth.login' })).rows.filter(
        (e) => e.targetType === 'user',
      ).length;
    const before = await attempts();
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: 'p'.repeat(5000) },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'validation_failed', details: [{ field: 'body.password' }] });
    // The sign-in service (which hashes the password) never saw it.
    expect(await attempts()).toBe(before);
    // Proof that the count moves when the service runs: a wrong password of normal length.
    await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'wrong-password' } });
    expect(await attempts()).toBe(before + 1);
  });
});
