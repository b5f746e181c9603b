import Alert from '@mui/material/Alert';
import type { ReactNode } from 'react';
import type { Role } from '@ctp/contracts';
import { useAppSelector } from '../api/store.js';

/** Shows its children only to the given roles; everyone else gets a clear 403 page. */
export function RequireRole({ roles, children }: { roles: Role[]; children: ReactNode }) {
  const user = useAppSelector((s) => s.session.user);
  if (!user || !roles.includes(user.role)) {
    return (
      <Alert severity="warning" role="alert">
        403 — this page is for {roles.join(' and ')}s only.
      </Alert>
    );
  }
  return <>{children}</>;
}
