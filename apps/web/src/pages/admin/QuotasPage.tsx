import Button from '@mui/material/Button';
import MenuItem from '@mui/material/MenuItem';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import type { QuotaScope, SetQuotaBody } from '@ctp/contracts';
import { useDeleteQuotaMutation, useQuotasQuery, useSetQuotaMutation } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

const SUBJECT_HINT: Record<QuotaScope, string> = {
  role: 'student, instructor or admin',
  user: 'username',
  class: 'class id',
};

/** A limit field as the API takes it: blank is no limit. */
const limitOf = (raw: string): number | null => (raw.trim() === '' ? null : Number(raw));
const shown = (value: number | null, unit = '') => (value === null ? '—' : `${value}${unit}`);

/** Admins set concurrent-lab, vCPU and memory quotas per role, user and class. */
export function QuotasPage() {
  const { data, error } = useQuotasQuery();
  const [setQuota, setting] = useSetQuotaMutation();
  const [deleteQuota, deleting] = useDeleteQuotaMutation();
  const [form, setForm] = useState({ scope: 'role' as QuotaScope, subject: 'student', labs: '', vcpus: '', memory: '' });
  const field = (name: 'labs' | 'vcpus' | 'memory', label: string) => (
    <TextField
      label={label}
      type="number"
      size="small"
      value={form[name]}
      onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      slotProps={{ htmlInput: { min: 0 } }}
      helperText="blank: no limit"
    />
  );
  const save = async () => {
    const limits: SetQuotaBody = { maxLabs: limitOf(form.labs), maxVcpus: limitOf(form.vcpus), maxMemoryMiB: limitOf(form.memory) };
    await setQuota({ scope: form.scope, subject: form.subject.trim(), limits });
  };
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Quotas
      </Typography>
      <Typography variant="body2">
        A user&apos;s own quota wins over their role&apos;s, limit by limit; a blank limit falls through to the role, then to the default
        (CTP_MAX_LABS_PER_USER concurrent labs). A class quota holds each student for the labs of that class.
      </Typography>
      <Paper variant="outlined" sx={{ p: 2 }}>
        <Stack direction={{ xs: 'column', md: 'row' }} spacing={1} sx={{ alignItems: 'flex-start' }}>
          <TextField
            select
            label="Scope"
            size="small"
            value={form.scope}
            onChange={(e) => setForm({ ...form, scope: e.target.value as QuotaScope, subject: '' })}
          >
            {(['role', 'user', 'class'] as const).map((s) => (
              <MenuItem key={s} value={s}>
                {s}
              </MenuItem>
            ))}
          </TextField>
          <TextField
            label="Subject"
            size="small"
            value={form.subject}
            onChange={(e) => setForm({ ...form, subject: e.target.value })}
            helperText={SUBJECT_HINT[form.scope]}
            required
          />
          {field('labs', 'Concurrent labs')}
          {field('vcpus', 'vCPUs')}
          {field('memory', 'Memory (MiB)')}
          <Button variant="contained" onClick={() => void save()} disabled={setting.isLoading || !form.subject.trim()}>
            Save quota
          </Button>
        </Stack>
        <ErrorAlert error={setting.error} />
      </Paper>
      <ErrorAlert error={error ?? deleting.error} />
      <Table size="small" aria-label="quotas">
        <TableHead>
          <TableRow>
            <TableCell>Scope</TableCell>
            <TableCell>Subject</TableCell>
            <TableCell>Concurrent labs</TableCell>
            <TableCell>vCPUs</TableCell>
            <TableCell>Memory</TableCell>
            <TableCell />
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.length === 0 && (
            <TableRow>
              <TableCell colSpan={6}>No quotas: every user has the default limit of concurrent labs.</TableCell>
            </TableRow>
          )}
          {data?.items.map((q) => (
            <TableRow key={`${q.scope}/${q.subject}`} aria-label={`quota ${q.scope} ${q.subjectName}`}>
              <TableCell>{q.scope}</TableCell>
              <TableCell>{q.subjectName}</TableCell>
              <TableCell>{shown(q.maxLabs)}</TableCell>
              <TableCell>{shown(q.maxVcpus)}</TableCell>
              <TableCell>{shown(q.maxMemoryMiB, ' MiB')}</TableCell>
              <TableCell>
                <Button size="small" color="warning" onClick={() => void deleteQuota({ scope: q.scope, subject: q.subject })}>
                  Delete
                </Button>
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Stack>
  );
}
