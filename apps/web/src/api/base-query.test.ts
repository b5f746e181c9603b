import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from './api.js';
import { refreshSession } from './base-query.js';
import { signedIn } from './session.slice.js';
import { makeStore } from './store.js';

const user = { id: 'u1', username: 'ann', email: null, role: 'student' as const, disabled: false, createdAt: '', updatedAt: '' };
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('API base query', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('refreshes once on a 401 and retries with the new token', async () => {
    const calls: string[] = [];
    vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(new URL(String(input), 'http://localhost'), init);
      const url = new URL(request.url).pathname;
      calls.push(`${request.method} ${url} ${request.headers.get('authorization') ?? ''}`);
      if (url === '/api/v1/auth/refresh') return json(200, { accessToken: 'new-token', expiresIn: 900, user, permissions: [] });
      if (request.headers.get('authorization') === 'Bearer old-token')
        return json(401, { error: { code: 'token_expired', message: 'expired' } });
      return json(200, { items: [], total: 0, limit: 50, offset: 0 });
    });
    const store = makeStore();
    store.dispatch(signedIn({ accessToken: 'old-token', user, permissions: [] }));
    const result = await store.dispatch(api.endpoints.labs.initiate());
    expect(result.data).toEqual({ items: [], total: 0, limit: 50, offset: 0 });
    expect(calls).toEqual(['GET /api/v1/labs Bearer old-token', 'POST /api/v1/auth/refresh ', 'GET /api/v1/labs Bearer new-token']);
    expect(store.getState().session.accessToken).toBe('new-token');
  });

  it('signs out when the refresh fails too', async () => {
    vi.stubGlobal('fetch', async (input: Request | string) => {
      const url = input instanceof Request ? new URL(input.url).pathname : String(input);
      return url.endsWith('/auth/refresh')
        ? json(401, { error: { code: 'unauthorized', message: 'no' } })
        : json(401, { error: { code: 'token_expired', message: 'expired' } });
    });
    const store = makeStore();
    store.dispatch(signedIn({ accessToken: 'old-token', user, permissions: [] }));
    await store.dispatch(api.endpoints.labs.initiate());
    expect(store.getState().session.user).toBeNull();
  });

  it('shares one refresh between concurrent callers', async () => {
    let refreshes = 0;
    const fake = (async () => {
      refreshes++;
      await new Promise((r) => setTimeout(r, 20));
      return json(200, { accessToken: 't', expiresIn: 900, user, permissions: [] });
    }) as unknown as typeof fetch;
    const [a, b] = await Promise.all([refreshSession(fake), refreshSession(fake)]);
    expect(a?.accessToken).toBe('t');
    expect(b).toEqual(a);
    expect(refreshes).toBe(1);
  });
});
