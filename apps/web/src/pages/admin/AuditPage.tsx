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
import { useAuditQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

/** The audit trail with filters: action (or prefix*), actor, outcome, since. */
export function AuditPage() {
  const [filters, setFilters] = useState({ action: '', actor: '', outcome: '', since: '' });
  const [page, setPage] = useState(0);
  const pageSize = 50;
  const { data, error } = useAuditQuery({
    action: filters.action,
    actor: filters.actor,
    outcome: filters.outcome,
    since: filters.since ? new Date(filters.since).toISOString() : undefined,
    limit: pageSize,
    offset: page * pageSize,
  });
  const set = (key: keyof typeof filters) => (e: { target: { value: string } }) => (
    setFilters({ ...filters, [key]: e.target.value }),
    setPage(0)
  );
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Audit log
      </Typography>
      <Stack direction="row" spacing={2} sx={{ flexWrap: 'wrap' }}>
        <TextField size="small" label="Action" placeholder="e.g. user.* or auth.login" value={filters.action} onChange={set('action')} />
        <TextField size="small" label="Actor" value={filters.actor} onChange={set('actor')} />
        <TextField size="small" select label="Outcome" value={filters.outcome} onChange={set('outcome')} sx={{ minWidth: 140 }}>
          <MenuItem value="">any</MenuItem>
          <MenuItem value="success">success</MenuItem>
          <MenuItem value="failure">failure</MenuItem>
          <MenuItem value="denied">denied</MenuItem>
        </TextField>
        <TextField
          size="small"
          type="datetime-local"
          label="Since"
          value={filters.since}
          onChange={set('since')}
          slotProps={{ inputLabel: { shrink: true } }}
        />
      </Stack>
      <ErrorAlert error={error} />
      <Table size="small" aria-label="audit events">
        <TableHead>
          <TableRow>
            <TableCell>When</TableCell>
            <TableCell>Who</TableCell>
            <TableCell>Action</TableCell>
            <TableCell>Target</TableCell>
            <TableCell>Outcome</TableCell>
            <TableCell>From</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.map((event) => (
            <TableRow key={event.id}>
              <TableCell>{new Date(event.at).toLocaleString()}</TableCell>
              <TableCell>{event.actorUsername ?? '—'}</TableCell>
              <TableCell>{event.action}</TableCell>
              <TableCell>
                {[event.targetType, (event.details as { username?: string }).username ?? event.targetId].filter(Boolean).join(' ')}
              </TableCell>
              <TableCell>
                {event.outcome}
                {event.statusCode ? ` (${event.statusCode})` : ''}
              </TableCell>
              <TableCell>{event.ip ?? ''}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {data && data.total === 0 && <Typography>No event matches these filters.</Typography>}
      <TablePagination
        component="div"
        count={data?.total ?? 0}
        page={page}
        rowsPerPage={pageSize}
        rowsPerPageOptions={[pageSize]}
        onPageChange={(_e, p) => setPage(p)}
      />
    </Stack>
  );
}
