import Alert from '@mui/material/Alert';
import { HelpPanel } from '../components/HelpPanel.js';
import Button from '@mui/material/Button';
import ButtonGroup from '@mui/material/ButtonGroup';
import LinearProgress from '@mui/material/LinearProgress';
import MenuItem from '@mui/material/MenuItem';
import Paper from '@mui/material/Paper';
import Select from '@mui/material/Select';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useCan } from '../components/RequirePermission.js';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { LabVm } from '@ctp/contracts';
import {
  useExtendLabMutation,
  useLabActionMutation,
  useLabQuery,
  useRevertVmMutation,
  useSnapshotsQuery,
  useVmActionMutation,
} from '../api/api.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { Countdown } from '../components/Countdown.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { LabTopology } from '../components/LabTopology.js';
import { StatusChip } from '../components/StatusChip.js';
import { LabSecretsPanel } from '../components/LabSecretsPanel.js';
import { Markdown } from '../components/Markdown.js';
import { TaskPanel } from '../components/TaskPanel.js';

function VmRow({ labId, vm, labReady }: { labId: string; vm: LabVm; labReady: boolean }) {
  const [act, acting] = useVmActionMutation();
  const [revert, reverting] = useRevertVmMutation();
  const snapshots = useSnapshotsQuery(vm.id, { skip: !labReady });
  const [snapshot, setSnapshot] = useState('initial');
  const [confirm, setConfirm] = useState(false);
  const busy = acting.isLoading || reverting.isLoading;
  return (
    <TableRow aria-label={`vm ${vm.name}`}>
      <TableCell>{vm.name}</TableCell>
      <TableCell>
        <StatusChip status={vm.status} />
      </TableCell>
      <TableCell>{vm.addresses.map((a) => `${a.address ?? '—'} (${a.network})`).join(', ')}</TableCell>
      <TableCell aria-label={`login of ${vm.name}`}>
        {vm.credentials ? (
          <>
            <code>{vm.credentials.username}</code> / <code>{vm.credentials.password}</code>
          </>
        ) : (
          '—'
        )}
      </TableCell>
      <TableCell>
        <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap', alignItems: 'center' }}>
          {vm.consoles.includes('serial') && (
            <Button size="small" component={Link} to={`/labs/${labId}/vms/${vm.id}/console?kind=serial`} disabled={vm.status !== 'running'}>
              Terminal
            </Button>
          )}
          {vm.consoles.includes('vnc') && (
            <Button size="small" component={Link} to={`/labs/${labId}/vms/${vm.id}/console?kind=vnc`} disabled={vm.status !== 'running'}>
              Screen
            </Button>
          )}
          {vm.studentControl && (
            <>
              <ButtonGroup size="small" disabled={!labReady || busy} aria-label={`actions for ${vm.name}`}>
                <Button onClick={() => act({ labId, vmId: vm.id, action: 'start' })}>Start</Button>
                <Button onClick={() => act({ labId, vmId: vm.id, action: 'stop' })}>Stop</Button>
                <Button onClick={() => act({ labId, vmId: vm.id, action: 'reboot' })}>Reboot</Button>
              </ButtonGroup>
              <Select
                size="small"
                value={snapshot}
                onChange={(e) => setSnapshot(e.target.value)}
                inputProps={{ 'aria-label': `snapshot of ${vm.name}` }}
              >
                {(snapshots.data ?? [{ name: 'initial' }]).map((s) => (
                  <MenuItem key={s.name} value={s.name}>
                    {s.name}
                  </MenuItem>
                ))}
              </Select>
              <Button size="small" color="warning" disabled={!labReady || busy} onClick={() => setConfirm(true)}>
                Revert
              </Button>
            </>
          )}
        </Stack>
        <ErrorAlert error={acting.error ?? reverting.error} />
        <ConfirmDialog
          open={confirm}
          title={`Revert ${vm.name}?`}
          confirmLabel="Revert"
          onClose={() => setConfirm(false)}
          onConfirm={() => void revert({ labId, vmId: vm.id, snapshot })}
        >
          {vm.name} returns to snapshot “{snapshot}”; what changed since is lost.
        </ConfirmDialog>
      </TableCell>
    </TableRow>
  );
}

/** One lab: its topology, VMs with their actions and consoles, lab actions, progress and time left. */
export function LabPage() {
  const { labId = '' } = useParams();
  const { data: lab, error, isLoading } = useLabQuery(labId);
  const [labAction, acting] = useLabActionMutation();
  const [extend, extending] = useExtendLabMutation();
  const [confirm, setConfirm] = useState<'reset' | 'delete' | null>(null);
  const navigate = useNavigate();
  // The server decides per lab; this only says whether to ask for the staff view.
  const staff = useCan('vm.seeHidden');
  if (isLoading) return <LinearProgress aria-label="loading" />;
  if (!lab) return <ErrorAlert error={error ?? { data: { error: { message: 'Lab not found' } } }} />;
  const ready = lab.status === 'running' || lab.status === 'stopped';
  const busy = !ready && lab.status !== 'error' && lab.status !== 'deleted';
  return (
    <Stack spacing={2}>
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center', flexWrap: 'wrap' }}>
        <Typography variant="h4" component="h1">
          {lab.name}
        </Typography>
        <StatusChip status={lab.status} testId="lab-status" />
        <Typography>
          Time left: <Countdown expiresAt={lab.expiresAt} />
        </Typography>
      </Stack>
      {lab.status === 'queued' && (
        <Alert severity="info" role="status" aria-label="queue position">
          The host is full: your lab waits its turn
          {lab.queuePosition ? ` (position ${lab.queuePosition} in the queue)` : ''} and starts by itself as other labs end.
        </Alert>
      )}
      {lab.hostUnreachable && (
        <Alert severity="warning" role="status" aria-label="host unreachable">
          The machine this lab runs on is not answering: its VMs cannot be reached until it is back.
        </Alert>
      )}
      {lab.host && (
        <Typography variant="body2" color="text.secondary" aria-label="host">
          Host: {lab.host.name} ({lab.host.state})
        </Typography>
      )}
      {busy && lab.progress.total > 0 && (
        <Paper variant="outlined" sx={{ p: 2 }}>
          <LinearProgress variant="determinate" value={(100 * lab.progress.done) / lab.progress.total} aria-label="progress" />
          <Typography variant="body2" sx={{ mt: 1 }}>
            Step {Math.min(lab.progress.done + 1, lab.progress.total)} of {lab.progress.total}
            {lab.progress.current ? `: ${lab.progress.current}` : ''}
          </Typography>
        </Paper>
      )}
      {lab.error && <ErrorAlert error={{ data: { error: { message: `Failed at “${lab.error.step ?? '?'}”: ${lab.error.message}` } } }} />}
      <ErrorAlert error={acting.error ?? extending.error} />
      <Stack direction="row" spacing={1} sx={{ flexWrap: 'wrap' }}>
        <Button variant="outlined" disabled={lab.status !== 'stopped'} onClick={() => labAction({ id: lab.id, action: 'start' })}>
          Start lab
        </Button>
        <Button variant="outlined" disabled={lab.status !== 'running'} onClick={() => labAction({ id: lab.id, action: 'stop' })}>
          Stop lab
        </Button>
        <Button variant="outlined" color="warning" disabled={!ready} onClick={() => setConfirm('reset')}>
          Reset lab
        </Button>
        <Button variant="outlined" disabled={lab.status === 'deleted'} onClick={() => extend({ id: lab.id, minutes: 30 })}>
          Extend 30 min
        </Button>
        <Button variant="contained" color="error" disabled={!ready && lab.status !== 'error'} onClick={() => setConfirm('delete')}>
          Delete lab
        </Button>
      </Stack>
      <LabTopology lab={lab} />
      <Table size="small" aria-label="virtual machines">
        <TableHead>
          <TableRow>
            <TableCell>VM</TableCell>
            <TableCell>State</TableCell>
            <TableCell>Addresses</TableCell>
            <TableCell>Login</TableCell>
            <TableCell>Actions</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {lab.vms.map((vm) => (
            <VmRow key={vm.id} labId={lab.id} vm={vm} labReady={lab.status === 'running'} />
          ))}
        </TableBody>
      </Table>
      {lab.description && (
        <Paper variant="outlined" sx={{ p: 2 }}>
          <Markdown text={lab.description} />
        </Paper>
      )}
      {lab.status !== 'deleted' && <HelpPanel labId={lab.id} />}
      {lab.status !== 'deleted' && <TaskPanel labId={lab.id} />}
      {staff && <LabSecretsPanel labId={lab.id} />}
      <ConfirmDialog
        open={confirm !== null}
        title={confirm === 'delete' ? 'Delete this lab?' : 'Reset this lab?'}
        confirmLabel={confirm === 'delete' ? 'Delete' : 'Reset'}
        onClose={() => setConfirm(null)}
        onConfirm={async () => {
          const action = confirm!;
          await labAction({ id: lab.id, action });
          if (action === 'delete') void navigate('/');
        }}
      >
        {confirm === 'delete'
          ? 'Every VM and network of the lab is destroyed.'
          : 'Every VM returns to its initial state; changes are lost.'}
      </ConfirmDialog>
    </Stack>
  );
}
