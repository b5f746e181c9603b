import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import type { Host } from '@ctp/contracts';
import { useHostsQuery, useSetHostDrainedMutation } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

const STATE_COLOURS: Record<Host['state'], 'success' | 'warning' | 'error'> = { up: 'success', draining: 'warning', down: 'error' };
const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;

/** One host: state, capacity and what labs hold of it, labs and VMs, last heartbeat, drain/undrain. */
function HostRow({ host }: { host: Host }) {
  const [setDrained, { isLoading, error }] = useSetHostDrainedMutation();
  const draining = host.state === 'draining';
  return (
    <TableRow data-testid={`host-${host.name}`}>
      <TableCell>
        {host.name}
        <Typography variant="body2" color="text.secondary">
          {host.driver} · {host.accelerator}
          {host.address ? ` · ${host.address}` : ''}
        </Typography>
      </TableCell>
      <TableCell>
        <Chip size="small" label={host.state} color={STATE_COLOURS[host.state]} />
      </TableCell>
      <TableCell>
        {host.use.cpus} / {host.capacity.cpus} vCPUs
        <br />
        {gib(host.use.memoryMiB)} / {gib(host.capacity.memoryMiB)}
      </TableCell>
      <TableCell>
        {host.labs} labs, {host.vms} VMs
      </TableCell>
      <TableCell>{new Date(host.lastHeartbeatAt).toLocaleString()}</TableCell>
      <TableCell>
        <Button
          size="small"
          variant="outlined"
          disabled={isLoading}
          onClick={() => void setDrained({ id: host.id, drained: !draining })}
          aria-label={`${draining ? 'Undrain' : 'Drain'} ${host.name}`}
        >
          {draining ? 'Undrain' : 'Drain'}
        </Button>
        {error && <ErrorAlert error={error} />}
      </TableCell>
    </TableRow>
  );
}

/** Admins: the hypervisor hosts, their state and load; drain a host before maintenance. */
export function HostsPage() {
  const { data, error } = useHostsQuery(undefined, { pollingInterval: 10_000 });
  if (!data) return <ErrorAlert error={error} />;
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Hosts
      </Typography>
      <Typography color="text.secondary">
        New labs go to the up host with the most memory free. A draining host keeps its labs but gets no new ones; a host silent for 30 s is
        down and its labs are shown as unreachable.
      </Typography>
      <Paper variant="outlined">
        <Table size="small" aria-label="hosts">
          <TableHead>
            <TableRow>
              <TableCell>Name</TableCell>
              <TableCell>State</TableCell>
              <TableCell>Held / capacity</TableCell>
              <TableCell>Labs</TableCell>
              <TableCell>Last seen</TableCell>
              <TableCell>Action</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {data.items.map((host) => (
              <HostRow key={host.id} host={host} />
            ))}
          </TableBody>
        </Table>
      </Paper>
    </Stack>
  );
}
