import { fetchBaseQuery, type BaseQueryFn, type FetchArgs, type FetchBaseQueryError } from '@reduxjs/toolkit/query/react';
import type { TokenResponse } from '@ctp/contracts';
import { signedIn, signedOut, type SessionState } from './session.slice.js';

// Absolute, so that requests can be built outside a page too (tests, workers).
const API_BASE = `${globalThis.location?.origin ?? ''}/api/v1`;

const raw = fetchBaseQuery({
  baseUrl: API_BASE,
  credentials: 'include',
  prepareHeaders: (headers, { getState }) => {
    const token = (getState() as { session: SessionState }).session.accessToken;
    if (token) headers.set('authorization', `Bearer ${token}`);
    return headers;
  },
});

// One refresh at a time: concurrent 401s wait for the same one.
let refreshing: Promise<TokenResponse | null> | null = null;

/** Asks the server for a new access token with the refresh cookie; null when the session is over. */
export function refreshSession(fetchImpl: typeof fetch = fetch): Promise<TokenResponse | null> {
  refreshing ??= fetchImpl(`${API_BASE}/auth/refresh`, { method: 'POST', credentials: 'include' })
    .then(async (response) => (response.ok ? ((await response.json()) as TokenResponse) : null))
    .catch(() => null)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** The API's base query: bearer token, and on a 401 one silent refresh and a retry, else sign-out. */
export const baseQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (args, api, extra) => {
  let result = await raw(args, api, extra);
  const url = typeof args === 'string' ? args : args.url;
  if (result.error?.status === 401 && !url.startsWith('/auth/')) {
    const session = await refreshSession();
    if (session) {
      api.dispatch(signedIn({ accessToken: session.accessToken, user: session.user, permissions: session.permissions }));
      result = await raw(args, api, extra);
    } else {
      api.dispatch(signedOut());
    }
  }
  return result;
};

/** The server's message for a failed request (every error has `{ error: { message, details } }`). */
export function errorMessage(error: unknown): string {
  const data = (error as { data?: { error?: { message?: string; details?: { field?: string; message: string }[] } } })?.data;
  if (data?.error?.message) return data.error.message;
  const status = (error as { status?: unknown })?.status;
  if (status === 'FETCH_ERROR') return 'The server cannot be reached. Check your connection.';
  return error ? `Request failed${status ? ` (${String(status)})` : ''}` : '';
}
