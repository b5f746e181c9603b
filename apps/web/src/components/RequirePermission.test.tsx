import { render, screen } from '@testing-library/react';
import { Provider } from 'react-redux';
import { describe, expect, it } from 'vitest';
import { signedIn } from '../api/session.slice.js';
import { makeStore } from '../api/store.js';
import { RequirePermission } from './RequirePermission.js';

function renderWith(permissions: string[]) {
  const store = makeStore();
  store.dispatch(
    signedIn({
      accessToken: 't',
      user: { id: '1', username: 'x', email: null, role: 'instructor', disabled: false, createdAt: '', updatedAt: '' },
      permissions,
    }),
  );
  render(
    <Provider store={store}>
      <RequirePermission permission="user.manage">
        <p>secret admin page</p>
      </RequirePermission>
    </Provider>,
  );
}

describe('permission guard', () => {
  it('shows the page to users the server gave the permission', () => {
    renderWith(['user.manage', 'audit.read']);
    expect(screen.getByText('secret admin page')).toBeTruthy();
  });
  it('shows a 403 to anyone else, whatever their role', () => {
    renderWith(['class.teach', 'lab.watch']);
    expect(screen.queryByText('secret admin page')).toBeNull();
    expect(screen.getByRole('alert').textContent).toMatch(/403/);
  });
});
