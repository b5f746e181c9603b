import { render, screen } from '@testing-library/react';
import { Provider } from 'react-redux';
import { describe, expect, it } from 'vitest';
import type { Role } from '@ctp/contracts';
import { signedIn } from '../api/session.slice.js';
import { makeStore } from '../api/store.js';
import { RequireRole } from './RequireRole.js';

function renderAs(role: Role) {
  const store = makeStore();
  store.dispatch(
    signedIn({ accessToken: 't', user: { id: '1', username: 'x', email: null, role, disabled: false, createdAt: '', updatedAt: '' } }),
  );
  render(
    <Provider store={store}>
      <RequireRole roles={['admin']}>
        <p>secret admin page</p>
      </RequireRole>
    </Provider>,
  );
}

describe('role guard', () => {
  it('shows admin pages to admins', () => {
    renderAs('admin');
    expect(screen.getByText('secret admin page')).toBeTruthy();
  });
  it.each(['student', 'instructor'] as const)('shows a 403 to a %s', (role) => {
    renderAs(role);
    expect(screen.queryByText('secret admin page')).toBeNull();
    expect(screen.getByRole('alert').textContent).toMatch(/403/);
  });
});
