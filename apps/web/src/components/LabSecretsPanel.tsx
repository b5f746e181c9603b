import Paper from '@mui/material/Paper';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useLabSecretsQuery, useTaskActivityQuery } from '../api/api.js';

/** Staff only: the lab's secret values and every answer, check and hint, shared answers flagged. */
export function LabSecretsPanel({ labId }: { labId: string }) {
  const secrets = useLabSecretsQuery(labId);
  const activity = useTaskActivityQuery(labId);
  return (
    <Paper variant="outlined" sx={{ p: 2 }} component="section" aria-label="staff view of tasks">
      <Typography variant="h6" component="h2">
        Secrets and activity (staff)
      </Typography>
      <Table size="small" aria-label="lab secrets">
        <TableHead>
          <TableRow>
            <TableCell>Secret</TableCell>
            <TableCell>Type</TableCell>
            <TableCell>Value</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {(secrets.data?.secrets ?? []).map((s) => (
            <TableRow key={s.name}>
              <TableCell>{s.name}</TableCell>
              <TableCell>{s.type}</TableCell>
              <TableCell sx={{ fontFamily: 'monospace' }}>{s.value}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      <Table size="small" aria-label="task activity">
        <TableHead>
          <TableRow>
            <TableCell>When</TableCell>
            <TableCell>Who</TableCell>
            <TableCell>Task</TableCell>
            <TableCell>What</TableCell>
            <TableCell>Result</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {(activity.data?.items ?? []).map((a) => (
            <TableRow key={a.id}>
              <TableCell>{new Date(a.at).toLocaleTimeString()}</TableCell>
              <TableCell>{a.username}</TableCell>
              <TableCell>{a.taskId}</TableCell>
              <TableCell>{a.kind === 'answer' ? a.answer : a.kind === 'hint' ? `hint ${a.hintId}` : a.kind}</TableCell>
              <TableCell>
                {a.sharedFromLabId
                  ? `shared answer from lab ${a.sharedFromLabId}`
                  : a.correct === null
                    ? ''
                    : a.correct
                      ? 'right'
                      : 'wrong'}
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Paper>
  );
}
