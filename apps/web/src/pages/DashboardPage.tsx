import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardActions from '@mui/material/CardActions';
import CardContent from '@mui/material/CardContent';
import LinearProgress from '@mui/material/LinearProgress';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { Link } from 'react-router';
import type { Lab } from '@ctp/contracts';
import { useLabsQuery } from '../api/api.js';
import { Countdown } from '../components/Countdown.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { MyAssignments } from '../components/MyAssignments.js';
import { QuotaUsage } from '../components/QuotaUsage.js';
import { useCan } from '../components/RequirePermission.js';
import { StatusChip } from '../components/StatusChip.js';

/** One lab as a card: status, time left, and while it provisions, the current step. */
export function LabCard({ lab }: { lab: Lab }) {
  const busy = ['provisioning', 'starting', 'stopping', 'resetting', 'deleting'].includes(lab.status);
  return (
    <Card variant="outlined" aria-label={`lab ${lab.name}`}>
      <CardContent>
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center', mb: 1 }}>
          <Typography variant="h6" component="h2" sx={{ flexGrow: 1 }}>
            {lab.name}
          </Typography>
          <StatusChip status={lab.status} />
        </Stack>
        <Typography variant="body2" color="text.secondary">
          Owner {lab.ownerUsername} · time left <Countdown expiresAt={lab.expiresAt} />
        </Typography>
        {busy && lab.progress.total > 0 && (
          <>
            <LinearProgress
              variant="determinate"
              value={(100 * lab.progress.done) / lab.progress.total}
              sx={{ mt: 1 }}
              aria-label="progress"
            />
            <Typography variant="caption">
              Step {Math.min(lab.progress.done + 1, lab.progress.total)} of {lab.progress.total}
              {lab.progress.current ? `: ${lab.progress.current}` : ''}
            </Typography>
          </>
        )}
        {lab.error && <ErrorAlert error={{ data: { error: { message: `${lab.error.step ?? 'failed'}: ${lab.error.message}` } } }} />}
      </CardContent>
      <CardActions>
        <Button component={Link} to={`/labs/${lab.id}`}>
          Open
        </Button>
      </CardActions>
    </Card>
  );
}

/** A student's labs, live. */
export function DashboardPage() {
  const { data, error, isLoading } = useLabsQuery();
  // Teachers find their classes' assignments on the Classes page.
  const teaches = useCan('class.teach');
  return (
    <Stack spacing={2}>
      {!teaches && <MyAssignments />}
      <Typography variant="h4" component="h1">
        My labs
      </Typography>
      <QuotaUsage />
      <ErrorAlert error={error} />
      {isLoading && <LinearProgress aria-label="loading" />}
      {data && data.items.length === 0 && (
        <Typography>
          No labs yet. Start one from the <Link to="/catalog">catalog</Link>.
        </Typography>
      )}
      {data?.items.map((lab) => (
        <LabCard key={lab.id} lab={lab} />
      ))}
    </Stack>
  );
}
