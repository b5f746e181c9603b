import Button from '@mui/material/Button';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { Link } from 'react-router';
import { useHelpActionMutation, useHelpQueueQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { StatusChip } from '../../components/StatusChip.js';

/** Staff: the help queue, live (requests arrive, are taken and resolved as `help.*` events come in). */
export function HelpQueuePage() {
  const queue = useHelpQueueQuery('waiting');
  const [act, acting] = useHelpActionMutation();
  const items = queue.data?.items ?? [];
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Help queue
      </Typography>
      <ErrorAlert error={queue.error ?? acting.error} />
      {items.length === 0 && <Typography>Nobody is waiting for help.</Typography>}
      {items.length > 0 && (
        <Paper variant="outlined">
          <Table size="small" aria-label="help requests">
            <TableHead>
              <TableRow>
                <TableCell>#</TableCell>
                <TableCell>Student</TableCell>
                <TableCell>Lab</TableCell>
                <TableCell>Message</TableCell>
                <TableCell>Asked</TableCell>
                <TableCell>State</TableCell>
                <TableCell>Actions</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {items.map((r) => (
                <TableRow key={r.id} data-testid={`help-${r.username}`}>
                  <TableCell>{r.position ?? '—'}</TableCell>
                  <TableCell>{r.username}</TableCell>
                  <TableCell>
                    <Link to={`/labs/${r.labId}`}>{r.labName}</Link>
                  </TableCell>
                  <TableCell sx={{ whiteSpace: 'pre-wrap' }}>{r.message}</TableCell>
                  <TableCell>{new Date(r.createdAt).toLocaleTimeString()}</TableCell>
                  <TableCell>
                    <StatusChip status={r.status} />
                    {r.takenBy ? ` ${r.takenBy}` : ''}
                  </TableCell>
                  <TableCell>
                    {r.status === 'open' && (
                      <Button size="small" onClick={() => void act({ id: r.id, action: 'take' })}>
                        Take
                      </Button>
                    )}
                    <Button size="small" onClick={() => void act({ id: r.id, action: 'resolve' })}>
                      Resolve
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Paper>
      )}
    </Stack>
  );
}
