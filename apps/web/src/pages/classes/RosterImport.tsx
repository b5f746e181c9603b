import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import type { EnrolResult } from '@ctp/contracts';
import { useEnrolCsvMutation } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

/** Enrols students from a roster CSV (a file or pasted text); shows generated passwords once. */
export function RosterImport({ classId }: { classId: string }) {
  const [csv, setCsv] = useState('');
  const [enrol, enrolling] = useEnrolCsvMutation();
  const [result, setResult] = useState<EnrolResult | null>(null);
  return (
    <Stack spacing={1} component="section" aria-label="import students">
      <Typography variant="h6" component="h2">
        Import students (CSV)
      </Typography>
      <Typography variant="body2" color="text.secondary">
        Header <code>username,email</code>, optionally <code>name,password</code>. Missing accounts are created; a file with any bad line
        imports nothing.
      </Typography>
      <Button variant="outlined" component="label" sx={{ alignSelf: 'flex-start' }}>
        Choose CSV file
        <input
          type="file"
          accept=".csv,text/csv"
          hidden
          aria-label="roster file"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) setCsv(await file.text());
          }}
        />
      </Button>
      <TextField
        label="Roster CSV"
        multiline
        minRows={3}
        value={csv}
        onChange={(e) => setCsv(e.target.value)}
        slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: 'monospace' } } }}
      />
      <Button
        variant="contained"
        sx={{ alignSelf: 'flex-start' }}
        disabled={!csv.trim() || enrolling.isLoading}
        onClick={async () => {
          setResult(null);
          const answer = await enrol({ id: classId, csv });
          if ('data' in answer && answer.data) {
            setResult(answer.data);
            setCsv('');
          }
        }}
      >
        Import
      </Button>
      <ErrorAlert error={enrolling.error} />
      {result && (
        <Alert severity="success" role="status">
          Enrolled {result.enrolled.length} ({result.enrolled.filter((e) => e.created).length} new accounts).
        </Alert>
      )}
      {result && result.credentials.length > 0 && (
        <>
          <Alert severity="warning">These passwords are shown only now: hand them to the students before leaving this page.</Alert>
          <Table size="small" aria-label="generated credentials">
            <TableHead>
              <TableRow>
                <TableCell>Username</TableCell>
                <TableCell>Password</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {result.credentials.map((c) => (
                <TableRow key={c.username}>
                  <TableCell>{c.username}</TableCell>
                  <TableCell>
                    <code>{c.password}</code>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </>
      )}
    </Stack>
  );
}
