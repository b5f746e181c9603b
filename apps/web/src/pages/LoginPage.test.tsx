import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Provider } from 'react-redux';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeStore } from '../api/store.js';
import { LoginPage } from './LoginPage.js';

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

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
    vi.stubGlobal('fetch', async () => answers.shift()!);
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
    vi.stubGlobal('fetch', async () =>
      json(200, {
        accessToken: 'tok',
        expiresIn: 900,
        user: { id: '1', username: 'ann', email: null, role: 'student', disabled: false, createdAt: '', updatedAt: '' },
        permissions: [],
      }),
    );
    const store = renderLogin();
    const user = userEvent.setup();
    await user.type(screen.getByLabelText(/username/i), 'ann');
    await user.type(screen.getByLabelText(/password/i), 'right-password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await vi.waitFor(() => expect(store.getState().session.user?.username).toBe('ann'));
  });
});
