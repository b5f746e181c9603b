import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, createUser, login, type TestContext } from '../test-support/test-app.js';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
function forge(header: object, payload: object, secret: string): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

describe('auth routes', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestApp({ loginMaxFailures: 3 });
  });
  afterEach(() => ctx.close());

  const me = (token: string) => ctx.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });

  it('signs in, answers the user and a short-lived token, and sets an httpOnly strict refresh cookie', async () => {
    const alice = await createUser(ctx, 'student', 'alice');
    const { token, response } = await login(ctx, 'Alice', alice.password);
    const body = response.json();
    expect(body.user).toMatchObject({ username: 'alice', role: 'student', disabled: false });
    expect(body.user.passwordHash).toBeUndefined();
    expect(body.expiresIn).toBe(ctx.config.accessTokenTtlSeconds);
    const cookie = response.cookies.find((c) => c.name === 'ctp_refresh')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/v1/auth' });
    expect((await me(token)).json().user.username).toBe('alice');
  });

  it('refuses a wrong password, an unknown user and a disabled account with one message, each audited', async () => {
    const bob = await createUser(ctx, 'student', 'bob');
    const wrong = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'bob', password: 'nope-nope' } });
    const unknown = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'ghost', password: 'nope-nope' },
    });
    await ctx.services.repositories.users.update(bob.id, { disabled: true });
    const disabled = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'bob', password: bob.password },
    });
    for (const response of [wrong, unknown, disabled]) {
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('invalid_credentials');
    }
    const { rows } = await ctx.services.repositories.audit.list({ limit: 10, offset: 0, action: 'auth.login' });
    expect(rows.map((r) => [r.targetId, r.outcome, (r.details as { reason: string }).reason]).sort()).toEqual([
      ['bob', 'failure', 'bad_password'],
      ['bob', 'failure', 'disabled'],
      ['ghost', 'failure', 'unknown_user'],
    ]);
  });

  it('refuses an (account, address) pair after its failures, even with the right password, but not other accounts', async () => {
    const carol = await createUser(ctx, 'student', 'carol');
    for (let i = 0; i < 3; i++) {
      const r = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'carol', password: 'wrong-one' } });
      expect(r.statusCode).toBe(401);
    }
    const limited = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'carol', password: carol.password },
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.message).toMatch(/Too many failed sign-ins/);
    // Another account from another address is not affected.
    const dave = await createUser(ctx, 'student', 'dave');
    const ok = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: '10.9.9.9',
      payload: { username: 'dave', password: dave.password },
    });
    expect(ok.statusCode).toBe(200);
  });

  it('rate-limits failed logins per address across accounts', async () => {
    const erin = await createUser(ctx, 'student', 'erin');
    for (let i = 0; i < 12; i++) {
      await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        remoteAddress: '10.1.1.1',
        payload: { username: `nobody${i}`, password: 'x' },
      });
    }
    const fromSame = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: '10.1.1.1',
      payload: { username: 'erin', password: erin.password },
    });
    expect(fromSame.statusCode).toBe(429);
    const fromOther = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: '10.1.1.2',
      payload: { username: 'erin', password: erin.password },
    });
    expect(fromOther.statusCode).toBe(200);
  });

  it('rotates the refresh token, and a reused one ends the whole session', async () => {
    const frank = await createUser(ctx, 'instructor', 'frank');
    const { cookie } = await login(ctx, 'frank', frank.password);
    const refresh = (value: string) => ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { ctp_refresh: value } });
    const first = await refresh(cookie);
    expect(first.statusCode).toBe(200);
    const rotated = first.cookies.find((c) => c.name === 'ctp_refresh')!.value;
    expect(rotated).not.toBe(cookie);
    expect((await me(first.json().accessToken)).statusCode).toBe(200);
    // Replaying the spent token revokes the family, including the newest token.
    expect((await refresh(cookie)).statusCode).toBe(401);
    expect((await refresh(rotated)).statusCode).toBe(401);
    expect((await refresh('garbage')).statusCode).toBe(401);
    expect((await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh' })).statusCode).toBe(401);
  });

  it('logout ends the session of the cookie', async () => {
    const gina = await createUser(ctx, 'student', 'gina');
    const { cookie } = await login(ctx, 'gina', gina.password);
    const out = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: { ctp_refresh: cookie } });
    expect(out.statusCode).toBe(204);
    const again = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { ctp_refresh: cookie } });
    expect(again.statusCode).toBe(401);
  });

  it('refuses expired, forged, alg:none and malformed access tokens with 401', async () => {
    const hank = await createUser(ctx, 'admin', 'hank');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: hank.id, username: 'hank', role: 'admin', epoch: 0 };
    const secret = ctx.config.jwtSecret!;
    const expired = forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now - 7200, exp: now - 3600 }, secret);
    const wrongKey = forge(
      { alg: 'HS256', typ: 'JWT' },
      { ...claims, iat: now, exp: now + 600 },
      'another-secret-entirely-0123456789abcdef',
    );
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iat: now, exp: now + 600 })}.`;
    const hs512 = forge({ alg: 'HS512', typ: 'JWT' }, { ...claims, iat: now, exp: now + 600 }, secret);
    const cases: [string, string][] = [
      [expired, 'token_expired'],
      [wrongKey, 'invalid_token'],
      [none, 'invalid_token'],
      [hs512, 'invalid_token'],
      // A token without a session epoch (issued before epochs existed) cannot be checked: refused.
      [
        forge({ alg: 'HS256', typ: 'JWT' }, { sub: hank.id, username: 'hank', role: 'admin', iat: now, exp: now + 600 }, secret),
        'invalid_token',
      ],
      ['not.a.jwt', 'invalid_token'],
    ];
    for (const [token, code] of cases) {
      const response = await me(token);
      expect(response.statusCode, token).toBe(401);
      expect(response.json().error.code).toBe(code);
    }
    const valid = forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now, exp: now + 600 }, secret);
    expect((await me(valid)).statusCode).toBe(200);
    const bad = await ctx.app.inject({ url: '/api/v1/auth/me', headers: { authorization: 'Basic abc' } });
    expect(bad.statusCode).toBe(401);
  });

  it('refuses the token of a user disabled after sign-in', async () => {
    const ivy = await createUser(ctx, 'student', 'ivy');
    const { token } = await login(ctx, 'ivy', ivy.password);
    await ctx.services.repositories.users.update(ivy.id, { disabled: true });
    expect((await me(token)).statusCode).toBe(401);
  });
});
