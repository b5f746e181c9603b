import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Provider } from 'react-redux';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeStore } from '../api/store.js';
import { LoginPage } from './LoginPage.js';

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const noSso = json(200, { localPasswords: 'all', sso: null });
/** Answers the sign-in methods, and every other request from `answer`. */
const serve = (answer: () => Response, methods = noSso) =>
  vi.fn(async (input: Request | string) =>
    String(input instanceof Request ? input.url : input).endsWith('/auth/methods') ? methods.clone() : answer(),
  );

function renderLogin() {
  const store = makeStore();
  render(
    <Provider store={store}>
      <LoginPage />
    </Provider>,
  );
  return store;
}

describe('sign-in page', () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows the server's message for bad credentials and for rate limiting", async () => {
    const answers = [
      json(401, { error: { code: 'invalid_credentials', message: 'Wrong username or password, or the account is disabled' } }),
      json(429, { error: { code: 'too_many_requests', message: 'Too many failed sign-ins; try again in 15 minutes' } }),
    ];
    vi.stubGlobal(
      'fetch',
      serve(() => answers.shift()!),
    );
    renderLogin();
    const user = userEvent.setup();
    await user.type(screen.getByLabelText(/username/i), 'ann');
    await user.type(screen.getByLabelText(/password/i), 'nope');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Wrong username or password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText(/Too many failed sign-ins/)).toBeTruthy();
  });

  it('signs in on success', async () => {
    vi.stubGlobal(
      'fetch',
      serve(() =>
        json(200, {
          accessToken: 'tok',
          expiresIn: 900,
          user: { id: '1', username: 'ann', email: null, role: 'student', disabled: false, createdAt: '', updatedAt: '' },
        }),
      ),
    );
    const store = renderLogin();
    const user = userEvent.setup();
    await user.type(screen.getByLabelText(/username/i), 'ann');
    await user.type(screen.getByLabelText(/password/i), 'right-password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await vi.waitFor(() => expect(store.getState().session.user?.username).toBe('ann'));
  });

  it('offers single sign-on when the server has it, and says when local passwords are for administrators only', async () => {
    const methods = json(200, { localPasswords: 'admins', sso: { name: 'University login', loginUrl: '/api/v1/auth/oidc/login' } });
    vi.stubGlobal(
      'fetch',
      serve(() => json(500, {}), methods),
    );
    renderLogin();
    const link = await screen.findByRole('link', { name: 'Sign in with University login' });
    expect(link.getAttribute('href')).toBe('/api/v1/auth/oidc/login');
    expect(screen.getByText('administrators: local password')).toBeTruthy();
  });

  it('offers no single sign-on when the server has none', async () => {
    vi.stubGlobal(
      'fetch',
      serve(() => json(500, {})),
    );
    const store = renderLogin();
    // Once the methods are in, the page has drawn what it will draw.
    await vi.waitFor(() => expect(Object.values(store.getState().api.queries)[0]?.status).toBe('fulfilled'));
    expect(screen.queryByRole('link', { name: /Sign in with/ })).toBeNull();
  });
});
