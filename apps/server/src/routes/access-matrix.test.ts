import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '@ctp/contracts';
import { createTestApp, createUser, signedIn, type TestContext } from '../test-support/test-app.js';

type Caller = 'anonymous' | Role;
const CALLERS: Caller[] = ['anonymous', 'student', 'instructor', 'admin'];

interface Fixture {
  ctx: TestContext;
  /** A user none of the callers is, to act upon. */
  otherUserId: string;
  passwords: Record<Role, { username: string; password: string }>;
}

interface Entry {
  /** Builds the request; the caller's token is added by the test. */
  request: (f: Fixture, caller: Caller) => { url: string; payload?: object };
  expect: Record<Caller, number>;
}

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
  'GET /api/v1/auth/me': { request: () => ({ url: '/api/v1/auth/me' }), expect: signedInOnly(200) },
  'GET /api/v1/users': { request: () => ({ url: '/api/v1/users' }), expect: adminOnly(200) },
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
};

describe('access-control matrix', () => {
  let fixture: Fixture;
  const tokens: Partial<Record<Caller, string>> = {};

  beforeAll(async () => {
    const ctx = await createTestApp();
    const passwords = {} as Fixture['passwords'];
    for (const role of ['student', 'instructor', 'admin'] as const) {
      const session = await signedIn(ctx, role);
      tokens[role] = session.token;
      passwords[role] = { username: session.user.username, password: session.user.password };
    }
    const other = await createUser(ctx, 'student');
    fixture = { ctx, otherUserId: other.id, passwords };
  });
  afterAll(() => fixture.ctx.app.close());

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
        const { url, payload } = entry.request(fixture, caller);
        const token = tokens[caller];
        const response = await fixture.ctx.app.inject({
          method: method as 'GET',
          url,
          ...(payload ? { payload } : {}),
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        expect(response.statusCode, response.body).toBe(entry.expect[caller]);
      });
    }
  }
});
