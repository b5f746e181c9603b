import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TablePagination from '@mui/material/TablePagination';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import type { Role, User } from '@ctp/contracts';
import { useCreateUserMutation, useResetPasswordMutation, useUpdateUserMutation, useUsersQuery } from '../../api/api.js';
import { ConfirmDialog } from '../../components/ConfirmDialog.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

const ROLES: Role[] = ['student', 'instructor', 'admin'];

function CreateUserDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [form, setForm] = useState({ username: '', password: '', role: 'student' as Role, email: '' });
  const [create, { error, isLoading, reset }] = useCreateUserMutation();
  const close = () => {
    reset();
    setForm({ username: '', password: '', role: 'student', email: '' });
    onClose();
  };
  return (
    <Dialog open={open} onClose={close} aria-labelledby="create-user-title">
      <DialogTitle id="create-user-title">New user</DialogTitle>
      <DialogContent>
        <TextField
          label="Username"
          value={form.username}
          onChange={(e) => setForm({ ...form, username: e.target.value })}
          fullWidth
          margin="dense"
          required
        />
        <TextField
          label="Password"
          type="password"
          value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })}
          fullWidth
          margin="dense"
          required
          helperText="At least 8 characters"
        />
        <TextField
          label="Email"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
          fullWidth
          margin="dense"
        />
        <TextField
          select
          label="Role"
          value={form.role}
          onChange={(e) => setForm({ ...form, role: e.target.value as Role })}
          fullWidth
          margin="dense"
        >
          {ROLES.map((r) => (
            <MenuItem key={r} value={r}>
              {r}
            </MenuItem>
          ))}
        </TextField>
        <ErrorAlert error={error} />
      </DialogContent>
      <DialogActions>
        <Button onClick={close}>Cancel</Button>
        <Button
          variant="contained"
          disabled={isLoading}
          onClick={async () => {
            const result = await create({
              username: form.username,
              password: form.password,
              role: form.role,
              ...(form.email ? { email: form.email } : {}),
            });
            if ('data' in result) close();
          }}
        >
          Create
        </Button>
      </DialogActions>
    </Dialog>
  );
}

function UserRow({ user }: { user: User }) {
  const [update, updating] = useUpdateUserMutation();
  const [resetPassword, resetting] = useResetPasswordMutation();
  const [confirmDisable, setConfirmDisable] = useState(false);
  const [password, setPassword] = useState<string | null>(null);
  return (
    <TableRow aria-label={`user ${user.username}`}>
      <TableCell>{user.username}</TableCell>
      <TableCell>{user.email ?? '—'}</TableCell>
      <TableCell>
        <TextField
          select
          size="small"
          value={user.role}
          onChange={(e) => update({ id: user.id, changes: { role: e.target.value as Role } })}
          slotProps={{ htmlInput: { 'aria-label': `role of ${user.username}` } }}
        >
          {ROLES.map((r) => (
            <MenuItem key={r} value={r}>
              {r}
            </MenuItem>
          ))}
        </TextField>
      </TableCell>
      <TableCell>{user.disabled ? 'disabled' : 'active'}</TableCell>
      <TableCell>
        <Stack direction="row" spacing={1}>
          {user.disabled ? (
            <Button size="small" onClick={() => update({ id: user.id, changes: { disabled: false } })}>
              Enable
            </Button>
          ) : (
            <Button size="small" color="warning" onClick={() => setConfirmDisable(true)}>
              Disable
            </Button>
          )}
          <Button size="small" onClick={() => setPassword('')}>
            Reset password
          </Button>
        </Stack>
        <ErrorAlert error={updating.error ?? resetting.error} />
        <ConfirmDialog
          open={confirmDisable}
          title={`Disable ${user.username}?`}
          confirmLabel="Disable"
          onClose={() => setConfirmDisable(false)}
          onConfirm={() => void update({ id: user.id, changes: { disabled: true } })}
        >
          They are signed out everywhere and cannot sign in until enabled again.
        </ConfirmDialog>
        <Dialog open={password !== null} onClose={() => setPassword(null)} aria-labelledby={`reset-${user.id}`}>
          <DialogTitle id={`reset-${user.id}`}>New password for {user.username}</DialogTitle>
          <DialogContent>
            <TextField
              label="New password"
              type="password"
              value={password ?? ''}
              onChange={(e) => setPassword(e.target.value)}
              fullWidth
              margin="dense"
            />
          </DialogContent>
          <DialogActions>
            <Button onClick={() => setPassword(null)}>Cancel</Button>
            <Button
              variant="contained"
              onClick={async () => {
                const result = await resetPassword({ id: user.id, password: password ?? '' });
                if (!('error' in result)) setPassword(null);
              }}
            >
              Set password
            </Button>
          </DialogActions>
        </Dialog>
      </TableCell>
    </TableRow>
  );
}

/** User administration: list with paging and search, create, change role, disable, reset password. */
export function UsersPage() {
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(0);
  const [creating, setCreating] = useState(false);
  const pageSize = 20;
  const { data, error } = useUsersQuery({ search, limit: pageSize, offset: page * pageSize });
  return (
    <Stack spacing={2}>
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
        <Typography variant="h4" component="h1" sx={{ flexGrow: 1 }}>
          Users
        </Typography>
        <TextField size="small" label="Search" value={search} onChange={(e) => (setSearch(e.target.value), setPage(0))} />
        <Button variant="contained" onClick={() => setCreating(true)}>
          New user
        </Button>
      </Stack>
      <ErrorAlert error={error} />
      <Table size="small" aria-label="users">
        <TableHead>
          <TableRow>
            <TableCell>Username</TableCell>
            <TableCell>Email</TableCell>
            <TableCell>Role</TableCell>
            <TableCell>State</TableCell>
            <TableCell>Actions</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.map((user) => (
            <UserRow key={user.id} user={user} />
          ))}
        </TableBody>
      </Table>
      {data && data.total === 0 && <Typography>No user matches. Create one with “New user”.</Typography>}
      <TablePagination
        component="div"
        count={data?.total ?? 0}
        page={page}
        rowsPerPage={pageSize}
        rowsPerPageOptions={[pageSize]}
        onPageChange={(_e, p) => setPage(p)}
      />
      <CreateUserDialog open={creating} onClose={() => setCreating(false)} />
    </Stack>
  );
}
