import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { Link } from 'react-router';
import type { ProvisionResult } from '@ctp/contracts';
import {
  useClassAssignmentsQuery,
  useCreateAssignmentMutation,
  useGradesCsvMutation,
  useProvisionAssignmentMutation,
  useTemplatesQuery,
  useUpdateAssignmentMutation,
} from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

/** `datetime-local` wants local time without a zone. */
const localInput = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

/** A class's assignments: give one, provision the class, download grades, turn the scoreboard on. */
export function AssignmentsPanel({ classId }: { classId: string }) {
  const { data, error } = useClassAssignmentsQuery(classId);
  const templates = useTemplatesQuery({ limit: 200 });
  const [create, creating] = useCreateAssignmentMutation();
  const [update, updating] = useUpdateAssignmentMutation();
  const [provision, provisioning] = useProvisionAssignmentMutation();
  const [grades, downloading] = useGradesCsvMutation();
  const [provisioned, setProvisioned] = useState<ProvisionResult | null>(null);
  const [templateId, setTemplateId] = useState('');
  const [opensAt, setOpensAt] = useState(() => localInput(new Date()));
  const [closesAt, setClosesAt] = useState(() => localInput(new Date(Date.now() + 2 * 3600_000)));
  const [lifetime, setLifetime] = useState(90);

  const download = async (id: string) => {
    const result = await grades(id);
    if (!('data' in result) || typeof result.data !== 'string') return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([result.data], { type: 'text/csv' }));
    link.download = 'grades.csv';
    link.click();
    URL.revokeObjectURL(link.href);
  };

  return (
    <Stack spacing={1} component="section" aria-label="assignments">
      <Typography variant="h6" component="h2">
        Assignments
      </Typography>
      <Stack
        direction={{ xs: 'column', md: 'row' }}
        spacing={1}
        component="form"
        aria-label="new assignment"
        onSubmit={async (e) => {
          e.preventDefault();
          await create({
            classId,
            body: {
              templateId,
              opensAt: new Date(opensAt).toISOString(),
              closesAt: new Date(closesAt).toISOString(),
              labLifetimeMinutes: lifetime,
            },
          });
        }}
      >
        <TextField
          select
          label="Template"
          value={templateId}
          onChange={(e) => setTemplateId(e.target.value)}
          size="small"
          sx={{ minWidth: 220 }}
          required
        >
          {(templates.data?.items ?? [])
            .filter((t) => t.status !== 'archived')
            .map((t) => (
              <MenuItem key={t.id} value={t.id}>
                {t.title}
              </MenuItem>
            ))}
        </TextField>
        <TextField
          label="Opens"
          type="datetime-local"
          value={opensAt}
          onChange={(e) => setOpensAt(e.target.value)}
          size="small"
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          label="Closes"
          type="datetime-local"
          value={closesAt}
          onChange={(e) => setClosesAt(e.target.value)}
          size="small"
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          label="Lab lifetime (minutes)"
          type="number"
          value={lifetime}
          onChange={(e) => setLifetime(Number(e.target.value))}
          size="small"
        />
        <Button type="submit" variant="contained" disabled={!templateId || creating.isLoading}>
          Assign
        </Button>
      </Stack>
      <ErrorAlert error={error ?? creating.error ?? updating.error ?? provisioning.error ?? downloading.error} />
      {provisioned && (
        <Alert severity="info" role="status">
          Provisioning {provisioned.created.length} lab{provisioned.created.length === 1 ? '' : 's'}
          {provisioned.skipped.length > 0 && `; skipped ${provisioned.skipped.map((s) => `${s.username} (${s.reason})`).join(', ')}`}.
        </Alert>
      )}
      <Table size="small" aria-label="class assignments">
        <TableHead>
          <TableRow>
            <TableCell>Lab</TableCell>
            <TableCell>Window</TableCell>
            <TableCell>State</TableCell>
            <TableCell>Scoreboard</TableCell>
            <TableCell>Actions</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.map((a) => (
            <TableRow key={a.id} aria-label={`assignment ${a.title}`}>
              <TableCell>{a.title}</TableCell>
              <TableCell>
                {new Date(a.opensAt).toLocaleString()} – {new Date(a.closesAt).toLocaleString()}
              </TableCell>
              <TableCell>{a.state}</TableCell>
              <TableCell>
                <Switch
                  checked={a.scoreboard}
                  onChange={(e) => update({ id: a.id, changes: { scoreboard: e.target.checked } })}
                  slotProps={{ input: { 'aria-label': `scoreboard of ${a.title}` } }}
                />
              </TableCell>
              <TableCell>
                <Button
                  size="small"
                  disabled={a.state === 'closed' || provisioning.isLoading}
                  onClick={async () => {
                    const result = await provision(a.id);
                    if ('data' in result && result.data) setProvisioned(result.data);
                  }}
                >
                  Provision class
                </Button>
                <Button size="small" component={Link} to={`/staff/assignments/${a.id}/progress`}>
                  Live progress
                </Button>
                <Button size="small" onClick={() => download(a.id)}>
                  Grades CSV
                </Button>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {data && data.items.length === 0 && <Typography>No assignments yet.</Typography>}
    </Stack>
  );
}
