import Alert from '@mui/material/Alert';
import type { ReactNode } from 'react';
import { useAppSelector } from '../api/store.js';

/** True when the signed-in user has the named permission (as the server sent it). */
export function useCan(permission: string): boolean {
  return useAppSelector((s) => s.session.permissions.includes(permission));
}

/** Shows its children only to users with the named permission; everyone else gets a clear 403 page. */
export function RequirePermission({ permission, children }: { permission: string; children: ReactNode }) {
  const allowed = useCan(permission);
  if (!allowed) {
    return (
      <Alert severity="warning" role="alert">
        403 — this page needs the permission “{permission}”, which your account does not have.
      </Alert>
    );
  }
  return <>{children}</>;
}
