import MenuItem from '@mui/material/MenuItem';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { useLabsQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { LabCard } from '../DashboardPage.js';

const STATUSES = ['', 'provisioning', 'running', 'stopped', 'error', 'deleted'];

/** Every student's labs, with a status filter; each opens to the lab page with its actions. */
export function AllLabsPage() {
  const [status, setStatus] = useState('');
  const { data, error } = useLabsQuery({ all: true, status });
  return (
    <Stack spacing={2}>
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
        <Typography variant="h4" component="h1" sx={{ flexGrow: 1 }}>
          All labs
        </Typography>
        <TextField select size="small" label="Status" value={status} onChange={(e) => setStatus(e.target.value)} sx={{ minWidth: 160 }}>
          {STATUSES.map((s) => (
            <MenuItem key={s} value={s}>
              {s || 'any (not deleted)'}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      <ErrorAlert error={error} />
      {data && data.items.length === 0 && <Typography>No lab matches. Students start labs from the catalog.</Typography>}
      {data?.items.map((lab) => (
        <LabCard key={lab.id} lab={lab} />
      ))}
    </Stack>
  );
}
