import Chip from '@mui/material/Chip';

const colours: Record<string, 'default' | 'success' | 'warning' | 'error' | 'info'> = {
  running: 'success',
  queued: 'warning',
  provisioning: 'info',
  starting: 'info',
  resetting: 'info',
  stopping: 'warning',
  deleting: 'warning',
  stopped: 'default',
  paused: 'warning',
  deleted: 'default',
  error: 'error',
  missing: 'error',
  pending: 'default',
  open: 'warning',
  taken: 'info',
};

/** A lab's or VM's status as a coloured chip. */
export function StatusChip({ status, testId }: { status: string; testId?: string }) {
  return <Chip size="small" label={status} color={colours[status] ?? 'default'} data-testid={testId} />;
}
