import Button from '@mui/material/Button';
import ButtonGroup from '@mui/material/ButtonGroup';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { Link, useParams } from 'react-router';
import type { ProgressRow } from '@ctp/contracts';
import { useAssignmentProgressQuery, useExtendLabMutation, useLabActionMutation } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { StatusChip } from '../../components/StatusChip.js';

const STATE_MARK = { solved: '✔', open: '·', locked: '🔒' } as const;

function timeLeft(seconds: number | null): string {
  if (seconds === null) return '—';
  return `${Math.floor(seconds / 60)} min`;
}

/** The live dashboard of an assignment: a row per student, refreshed on each lab and task event. */
export function ProgressPage() {
  const { assignmentId } = useParams();
  const progress = useAssignmentProgressQuery(assignmentId ?? '');
  const [labAction, acting] = useLabActionMutation();
  const [extend, extending] = useExtendLabMutation();
  const rows = progress.data?.rows ?? [];
  const withLabs = rows.filter(
    (r): r is ProgressRow & { lab: NonNullable<ProgressRow['lab']> } => r.lab !== null && r.lab.status !== 'deleted',
  );
  const forAll = async (act: (labId: string) => Promise<unknown>) => {
    for (const r of withLabs) await act(r.lab.id);
  };
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Class progress
      </Typography>
      <ErrorAlert error={progress.error ?? acting.error ?? extending.error} />
      <ButtonGroup aria-label="every lab">
        <Button onClick={() => void forAll((id) => extend({ id, minutes: 15 }))}>Extend all by 15 min</Button>
        <Button onClick={() => void forAll((id) => labAction({ id, action: 'reset' }))}>Reset all</Button>
        <Button color="error" onClick={() => void forAll((id) => labAction({ id, action: 'delete' }))}>
          End all
        </Button>
      </ButtonGroup>
      <Paper variant="outlined" sx={{ overflowX: 'auto' }}>
        <Table size="small" aria-label="students">
          <TableHead>
            <TableRow>
              <TableCell>Student</TableCell>
              <TableCell>Lab</TableCell>
              <TableCell>Time left</TableCell>
              {(progress.data?.taskIds ?? []).map((id) => (
                <TableCell key={id}>{id}</TableCell>
              ))}
              <TableCell>Score</TableCell>
              <TableCell>Attempts</TableCell>
              <TableCell>Hints</TableCell>
              <TableCell>Last activity</TableCell>
              <TableCell>Actions</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.map((r) => (
              <TableRow key={r.userId} data-testid={`progress-${r.username}`}>
                <TableCell>{r.name ? `${r.name} (${r.username})` : r.username}</TableCell>
                <TableCell>
                  {r.lab ? <StatusChip status={r.lab.status} /> : 'no lab'}
                  {r.lab?.queuePosition ? ` #${r.lab.queuePosition}` : ''}
                </TableCell>
                <TableCell>{timeLeft(r.lab?.secondsLeft ?? null)}</TableCell>
                {(progress.data?.taskIds ?? []).map((id) => {
                  const task = r.tasks.find((t) => t.id === id);
                  return (
                    <TableCell key={id} data-testid={`task-${r.username}-${id}`} aria-label={task ? `${id}: ${task.state}` : `${id}: none`}>
                      {task ? `${STATE_MARK[task.state]} ${task.awarded}` : '—'}
                    </TableCell>
                  );
                })}
                <TableCell data-testid={`score-${r.username}`}>
                  {r.score}/{r.maxScore}
                </TableCell>
                <TableCell>{r.attempts}</TableCell>
                <TableCell>{r.hintsUsed}</TableCell>
                <TableCell>{r.lastActivity ? new Date(r.lastActivity).toLocaleTimeString() : '—'}</TableCell>
                <TableCell>
                  {r.lab && r.lab.status !== 'deleted' && (
                    <ButtonGroup size="small" aria-label={`actions for ${r.username}`}>
                      {r.lab.consoleVmId && (
                        <Button component={Link} to={`/labs/${r.lab.id}/vms/${r.lab.consoleVmId}/console?kind=serial`}>
                          Watch
                        </Button>
                      )}
                      <Button onClick={() => void extend({ id: r.lab!.id, minutes: 15 })}>+15 min</Button>
                      <Button onClick={() => void labAction({ id: r.lab!.id, action: 'reset' })}>Reset</Button>
                      <Button color="error" onClick={() => void labAction({ id: r.lab!.id, action: 'delete' })}>
                        End
                      </Button>
                    </ButtonGroup>
                  )}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </Paper>
    </Stack>
  );
}
