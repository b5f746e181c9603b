import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { Link } from 'react-router';
import { useSetTemplateStatusMutation, useTemplatesQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { StatusChip } from '../../components/StatusChip.js';

/** Templates for instructors: edit, publish, archive, or write a new one. */
export function TemplatesPage() {
  const { data, error } = useTemplatesQuery();
  const [setStatus, changing] = useSetTemplateStatusMutation();
  return (
    <Stack spacing={2}>
      <Stack direction="row" sx={{ alignItems: 'center' }}>
        <Typography variant="h4" component="h1" sx={{ flexGrow: 1 }}>
          Templates
        </Typography>
        <Button variant="contained" component={Link} to="/staff/templates/new">
          New template
        </Button>
      </Stack>
      <ErrorAlert error={error ?? changing.error} />
      <Table size="small" aria-label="templates">
        <TableHead>
          <TableRow>
            <TableCell>Title</TableCell>
            <TableCell>Status</TableCell>
            <TableCell>Version</TableCell>
            <TableCell>Actions</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.map((t) => (
            <TableRow key={t.id} aria-label={`template ${t.title}`}>
              <TableCell>{t.title}</TableCell>
              <TableCell>
                <StatusChip status={t.status} />
              </TableCell>
              <TableCell>{t.version}</TableCell>
              <TableCell>
                <Button size="small" component={Link} to={`/staff/templates/${t.id}`}>
                  Edit
                </Button>
                <Button size="small" disabled={t.status === 'published'} onClick={() => setStatus({ id: t.id, action: 'publish' })}>
                  Publish
                </Button>
                <Button size="small" disabled={t.status === 'archived'} onClick={() => setStatus({ id: t.id, action: 'archive' })}>
                  Archive
                </Button>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {data && data.total === 0 && <Typography>No templates yet. Write one with “New template”.</Typography>}
    </Stack>
  );
}
