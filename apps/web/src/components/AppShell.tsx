import { AnnouncementBanner } from './AnnouncementBanner.js';
import AppBar from '@mui/material/AppBar';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Container from '@mui/material/Container';
import Snackbar from '@mui/material/Snackbar';
import Toolbar from '@mui/material/Toolbar';
import Typography from '@mui/material/Typography';
import { useEffect, useState, type ReactNode } from 'react';
import { NavLink } from 'react-router';
import { useLogoutMutation } from '../api/api.js';
import { onNotice } from '../api/live-events.js';
import { signedOut } from '../api/session.slice.js';
import { useAppDispatch, useAppSelector } from '../api/store.js';

/** Navigation; an entry with a permission shows only to users the server gave it. */
const NAV: { to: string; label: string; permission?: string }[] = [
  { to: '/', label: 'My labs' },
  { to: '/catalog', label: 'Catalog' },
  { to: '/staff/classes', label: 'Classes', permission: 'class.teach' },
  { to: '/staff/labs', label: 'All labs', permission: 'lab.watch' },
  { to: '/staff/templates', label: 'Templates', permission: 'template.author' },
  { to: '/staff/images', label: 'Images', permission: 'image.upload' },
  { to: '/staff/help', label: 'Help queue', permission: 'lab.watch' },
  { to: '/admin/users', label: 'Users', permission: 'user.manage' },
  { to: '/admin/quotas', label: 'Quotas', permission: 'quota.manage' },
  { to: '/admin/audit', label: 'Audit', permission: 'audit.read' },
  { to: '/admin/overview', label: 'Overview', permission: 'lab.manageAll' },
  { to: '/admin/system', label: 'System', permission: 'system.read' },
  { to: '/admin/hosts', label: 'Hosts', permission: 'host.read' },
];

/** The frame of every page: navigation by role, who is signed in, live status, expiry warnings. */
export function AppShell({ children }: { children: ReactNode }) {
  const user = useAppSelector((s) => s.session.user)!;
  const permissions = useAppSelector((s) => s.session.permissions);
  const live = useAppSelector((s) => s.session.live);
  const dispatch = useAppDispatch();
  const [logout] = useLogoutMutation();
  const [warning, setWarning] = useState<string | null>(null);
  useEffect(
    () =>
      onNotice((event) => {
        const d = event.data;
        if (event.type === 'lab.expiring') setWarning(`A lab expires in ${String(d.minutesLeft)} minutes — extend it or save your work.`);
        else if (d.watcher !== user.username) {
          setWarning(
            d.watching
              ? `${String(d.watcher)} is watching the ${String(d.kind)} console of ${String(d.vm)}.`
              : `${String(d.watcher)} stopped watching ${String(d.vm)}.`,
          );
        }
      }),
    [user.username],
  );
  return (
    <Box>
      <AppBar position="static">
        <Toolbar sx={{ gap: 1, flexWrap: 'wrap' }}>
          <Typography variant="h6" component="div" sx={{ mr: 2 }}>
            Cyber Training Platform
          </Typography>
          <Box component="nav" aria-label="main" sx={{ display: 'flex', gap: 0.5, flexGrow: 1, flexWrap: 'wrap' }}>
            {NAV.filter((item) => !item.permission || permissions.includes(item.permission)).map((item) => (
              <Button key={item.to} component={NavLink} to={item.to} end color="inherit">
                {item.label}
              </Button>
            ))}
          </Box>
          <Chip size="small" color={live ? 'success' : 'warning'} label={live ? 'live' : 'offline — reconnecting'} aria-live="polite" />
          <Typography variant="body2" aria-label="signed in as">
            {user.username} ({user.role})
          </Typography>
          <Button
            color="inherit"
            onClick={async () => {
              await logout().catch(() => {});
              dispatch(signedOut());
            }}
          >
            Sign out
          </Button>
        </Toolbar>
      </AppBar>
      <Container maxWidth="lg" sx={{ py: 3 }} component="main">
        <AnnouncementBanner />
        {children}
      </Container>
      <Snackbar open={warning !== null} autoHideDuration={15_000} onClose={() => setWarning(null)} message={warning} />
    </Box>
  );
}
