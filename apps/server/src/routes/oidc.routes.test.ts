import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../config.js';
import { loadConfig } from '../config.js';
import { startOidcProvider, type TestOidcProvider } from '../test-support/oidc-provider.js';
import { createTestApp, createUser, login, type TestContext } from '../test-support/test-app.js';
import { testDatabase } from '../test-support/test-database.js';

const CALLBACK = 'http://ctp.test/api/v1/auth/oidc/callback';

// Single sign-on against a real OpenID Connect provider (oidc-provider on a loopback port),
// its login form driven over HTTP; the browser path is in apps/web/e2e/sso.e2e.test.ts.
describe('single sign-on (OpenID Connect)', () => {
  let provider: TestOidcProvider;
  let ctx: TestContext;

  beforeAll(async () => {
    provider = await startOidcProvider(CALLBACK);
    // Opening (and migrating) the test database is the slow part: not inside the first test.
    await testDatabase();
  }, 120_000);
  afterAll(() => provider?.close());
  afterEach(() => ctx?.close());

  const ssoConfig = (overrides: Record<string, string> = {}): Partial<Config> => {
    const config = loadConfig({
      CTP_OIDC_ISSUER: provider.issuer,
      CTP_OIDC_CLIENT_ID: provider.clientId,
      CTP_OIDC_CLIENT_SECRET: provider.clientSecret,
      CTP_OIDC_NAME: 'University login',
      CTP_OIDC_ROLE_CLAIM: 'groups',
      CTP_OIDC_ADMIN_VALUES: 'ctp-admins',
      CTP_OIDC_INSTRUCTOR_VALUES: 'staff,teachers',
      CTP_OIDC_SCOPES: 'openid profile email groups',
      CTP_OIDC_REDIRECT_URI: CALLBACK,
      ...overrides,
    });
    return { oidc: config.oidc, localPasswords: config.localPasswords };
  };

  /** Starts a sign-in at the platform: the provider's URL and the pending-state cookie. */
  const begin = async () => {
    const response = await ctx.app.inject({ url: '/api/v1/auth/oidc/login' });
    expect(response.statusCode).toBe(302);
    const cookie = response.cookies.find((c) => c.name === 'ctp_oidc')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/v1/auth/oidc' });
    return { location: response.headers.location as string, pending: cookie.value };
  };
  const callback = (url: URL, pending: string | undefined) =>
    ctx.app.inject({ url: `${url.pathname}${url.search}`, cookies: pending ? { ctp_oidc: pending } : {} });
  /** A whole sign-in as `login`: answers the callback's response. */
  const signIn = async (loginName: string) => {
    const { location, pending } = await begin();
    return callback(await provider.signInOverHttp(location, loginName), pending);
  };
  const refresh = (response: { cookies: { name: string; value: string }[] }) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      cookies: { ctp_refresh: response.cookies.find((c) => c.name === 'ctp_refresh')!.value },
    });
  const auditOf = async (action: string) => (await ctx.services.repositories.audit.list({ limit: 50, offset: 0, action })).rows;

  it('sends the browser to the provider with PKCE (S256), state and nonce', async () => {
    ctx = await createTestApp(ssoConfig());
    const { location } = await begin();
    const url = new URL(location);
    expect(url.origin).toBe(provider.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    for (const param of ['code_challenge', 'state', 'nonce']) expect(url.searchParams.get(param)?.length).toBeGreaterThanOrEqual(32);
    expect(url.searchParams.get('redirect_uri')).toBe(CALLBACK);
    const methods = (await ctx.app.inject({ url: '/api/v1/auth/methods' })).json();
    expect(methods).toEqual({ localPasswords: 'all', sso: { name: 'University login', loginUrl: '/api/v1/auth/oidc/login' } });
  });

  it('creates the account at the first sign-in with the mapped role, and lands with a normal refresh-cookie session', async () => {
    ctx = await createTestApp(ssoConfig());
    provider.accounts.set('sub-carol', { preferred_username: 'carol', email: 'carol@uni.test', email_verified: true, groups: ['staff'] });
    const response = await signIn('sub-carol');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/');
    expect(response.cookies.find((c) => c.name === 'ctp_refresh')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The pending state is spent.
    expect(response.cookies.find((c) => c.name === 'ctp_oidc')?.value).toBe('');
    const session = await refresh(response);
    expect(session.statusCode).toBe(200);
    expect(session.json().user).toMatchObject({ username: 'carol', role: 'instructor', email: 'carol@uni.test' });
    const created = await auditOf('user.create');
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ outcome: 'success', details: { source: 'oidc', subject: 'sub-carol', role: 'instructor' } });
    expect((await auditOf('auth.sso_login'))[0]).toMatchObject({ outcome: 'success', actorUsername: 'carol' });
    // A second sign-in finds the same account.
    const again = await refresh(await signIn('sub-carol'));
    expect(again.json().user.id).toBe(session.json().user.id);
    expect(await auditOf('user.create')).toHaveLength(1);
  });

  it('links by issuer and subject, never by a username the provider lets people choose', async () => {
    ctx = await createTestApp(ssoConfig());
    const local = await createUser(ctx, 'admin', 'root-admin');
    provider.accounts.set('sub-mallory', { preferred_username: 'root-admin', groups: [] });
    const session = await refresh(await signIn('sub-mallory'));
    expect(session.json().user).toMatchObject({ username: 'root-admin-2', role: 'student' });
    expect(session.json().user.id).not.toBe(local.id);
  });

  it('updates the role from the claim at each sign-in, ending the sessions issued under the old role', async () => {
    ctx = await createTestApp(ssoConfig());
    // Another admin exists, so the provider may demote this one.
    await createUser(ctx, 'admin', 'local-admin');
    provider.accounts.set('sub-dave', { preferred_username: 'dave', groups: ['ctp-admins'] });
    const first = await refresh(await signIn('sub-dave'));
    expect(first.json().user.role).toBe('admin');
    const oldToken = first.json().accessToken as string;
    expect((await ctx.app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${oldToken}` } })).statusCode).toBe(200);

    provider.accounts.set('sub-dave', { preferred_username: 'dave', groups: ['students'] });
    const second = await refresh(await signIn('sub-dave'));
    expect(second.json().user.role).toBe('student');
    const stale = await ctx.app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${oldToken}` } });
    expect(stale.statusCode).toBe(401);
    expect(stale.json().error.code).toBe('session_ended');
    const changes = await auditOf('user.update');
    expect(changes[0]).toMatchObject({ outcome: 'success', details: { source: 'oidc', from: 'admin', to: 'student' } });
  });

  it('refuses a disabled user with a clear reason (403), audited', async () => {
    ctx = await createTestApp(ssoConfig());
    provider.accounts.set('sub-erin', { preferred_username: 'erin' });
    await refresh(await signIn('sub-erin'));
    const erin = (await ctx.services.repositories.users.findByUsername('erin'))!;
    await ctx.services.repositories.users.update(erin.id, { disabled: true }, true);
    const refused = await signIn('sub-erin');
    expect(refused.statusCode).toBe(403);
    expect(refused.headers['content-type']).toContain('text/html');
    expect(refused.body).toContain('Your account on this platform is disabled');
    expect(refused.cookies.find((c) => c.name === 'ctp_refresh')).toBeUndefined();
    expect((await auditOf('auth.sso_login'))[0]).toMatchObject({ outcome: 'denied', statusCode: 403, details: { reason: 'disabled' } });
  });

  it('refuses a callback without its pending state, with a forged one, or with another sign-in’s state: 400, never 500', async () => {
    ctx = await createTestApp(ssoConfig());
    provider.accounts.set('sub-frank', { preferred_username: 'frank' });
    const { location, pending } = await begin();
    const back = await provider.signInOverHttp(location, 'sub-frank');
    const other = await begin();
    const [body, mac] = pending.split('.');
    const forged = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), expiresAt: 1 })).toString('base64url')}.${mac}`;
    for (const cookie of [undefined, 'garbage', forged, `${body}.${'A'.repeat(43)}`, other.pending]) {
      const response = await callback(back, cookie);
      expect(response.statusCode, String(cookie)).toBe(400);
      expect(response.body).toMatch(/start (the sign-in )?again/);
    }
    // The code was never redeemed: with its own state it still works.
    expect((await callback(back, pending)).statusCode).toBe(303);
  });

  it('refuses a replayed code, a wrong issuer and a provider error with 400', async () => {
    ctx = await createTestApp(ssoConfig());
    provider.accounts.set('sub-gina', { preferred_username: 'gina' });
    const { location, pending } = await begin();
    const back = await provider.signInOverHttp(location, 'sub-gina');
    expect((await callback(back, pending)).statusCode).toBe(303);
    // The same callback again, cookie included (a stolen redirect): the provider refuses the code.
    const replayed = await callback(back, pending);
    expect(replayed.statusCode).toBe(400);
    expect(replayed.body).toContain('invalid_grant');

    const second = await begin();
    const wrongIssuer = await provider.signInOverHttp(second.location, 'sub-gina');
    wrongIssuer.searchParams.set('iss', 'https://evil.example');
    expect((await callback(wrongIssuer, second.pending)).statusCode).toBe(400);

    const third = await begin();
    const state = new URL(third.location).searchParams.get('state')!;
    const denied = new URL(`${CALLBACK}?error=access_denied&state=${state}&iss=${encodeURIComponent(provider.issuer)}`);
    const refused = await callback(denied, third.pending);
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('access_denied');

    const hostile = await ctx.app.inject({ url: '/api/v1/auth/oidc/callback?code=x&unexpected=<script>' });
    expect(hostile.statusCode).toBe(400);
    const failures = (await auditOf('auth.sso_login')).filter((e) => e.outcome === 'failure');
    expect(failures.length).toBeGreaterThanOrEqual(3);
    // No code, token or client secret in the audit trail.
    const trail = JSON.stringify(await ctx.services.repositories.audit.list({ limit: 200, offset: 0 }));
    expect(trail).not.toContain(back.searchParams.get('code')!);
    expect(trail).not.toContain(provider.clientSecret);
  });

  it('turns local passwords off for everyone but administrators', async () => {
    ctx = await createTestApp(ssoConfig({ CTP_LOCAL_PASSWORDS: 'admins' }));
    const student = await createUser(ctx, 'student', 'hank');
    const admin = await createUser(ctx, 'admin', 'ivy');
    const refused = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'hank', password: student.password },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'local_passwords_off' });
    expect(refused.json().error.message).toContain('University login');
    // A wrong password still gets the usual answer: the policy reveals nothing to a guesser.
    const wrong = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'hank', password: 'wrong-one' } });
    expect(wrong.statusCode).toBe(401);
    expect((await login(ctx, 'ivy', admin.password)).response.statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/api/v1/auth/methods' })).json().localPasswords).toBe('admins');
    const denied = (await auditOf('auth.login')).find((e) => e.outcome === 'denied');
    expect(denied).toMatchObject({ statusCode: 403, details: { reason: 'local_passwords_off' } });
  });

  it('answers 404 when single sign-on is not configured, and 503 while the provider cannot be reached', async () => {
    ctx = await createTestApp();
    expect((await ctx.app.inject({ url: '/api/v1/auth/oidc/login' })).statusCode).toBe(404);
    expect((await ctx.app.inject({ url: '/api/v1/auth/methods' })).json()).toEqual({ localPasswords: 'all', sso: null });
    await ctx.close();
    ctx = await createTestApp(ssoConfig());
    provider.accounts.set('sub-jo', { preferred_username: 'jo' });
    const { location, pending } = await begin();
    const back = await provider.signInOverHttp(location, 'sub-jo');
    await ctx.close();
    ctx = await createTestApp(ssoConfig({ CTP_OIDC_ISSUER: 'http://127.0.0.1:9/realm' }));
    const down = await ctx.app.inject({ url: '/api/v1/auth/oidc/login' });
    expect(down.statusCode).toBe(503);
    expect(down.json().error.code).toBe('sso_unavailable');
    // Back from the provider while it cannot be reached any more: refused with the reason, audited.
    const late = await callback(back, pending);
    expect(late.statusCode).toBe(503);
    expect(late.body).toContain('Single sign-on is unavailable');
    expect((await auditOf('auth.sso_login'))[0]).toMatchObject({ outcome: 'failure', details: { reason: 'provider_unavailable' } });
  });

  it('refuses bad single sign-on settings at start', () => {
    expect(() => loadConfig({ CTP_OIDC_ISSUER: 'http://idp.example.com', CTP_OIDC_CLIENT_ID: 'x' })).toThrow(/https/);
    expect(() => loadConfig({ CTP_OIDC_ISSUER: 'https://idp.example.com' })).toThrow(/CTP_OIDC_CLIENT_ID/);
    expect(() => loadConfig({ CTP_LOCAL_PASSWORDS: 'admins' })).toThrow(/needs single sign-on/);
    expect(() => loadConfig({ CTP_LOCAL_PASSWORDS: 'nobody' })).toThrow(/all or admins/);
  });
});
