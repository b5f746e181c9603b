import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import CardActions from '@mui/material/CardActions';
import CardContent from '@mui/material/CardContent';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { Link, useNavigate } from 'react-router';
import type { Assignment } from '@ctp/contracts';
import { useMyAssignmentsQuery, useStartAssignmentLabMutation } from '../api/api.js';
import { ErrorAlert } from './ErrorAlert.js';
import { StatusChip } from './StatusChip.js';

const when = (iso: string) => new Date(iso).toLocaleString();

function AssignmentCard({ assignment }: { assignment: Assignment }) {
  const [start, starting] = useStartAssignmentLabMutation();
  const navigate = useNavigate();
  const { lab, state } = assignment;
  return (
    <Card variant="outlined" aria-label={`assignment ${assignment.title}`}>
      <CardContent>
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
          <Typography variant="h6" component="h3" sx={{ flexGrow: 1 }}>
            {assignment.title}
          </Typography>
          {lab && <StatusChip status={lab.status} />}
        </Stack>
        <Typography variant="body2" color="text.secondary">
          {assignment.className} ·{' '}
          {state === 'upcoming'
            ? `opens ${when(assignment.opensAt)}`
            : state === 'open'
              ? `open until ${when(assignment.closesAt)}`
              : `closed ${when(assignment.closesAt)}`}
        </Typography>
        <ErrorAlert error={starting.error} />
      </CardContent>
      <CardActions>
        {lab ? (
          <Button component={Link} to={`/labs/${lab.id}`}>
            Open lab
          </Button>
        ) : (
          <Button
            variant="contained"
            disabled={state !== 'open' || starting.isLoading}
            onClick={async () => {
              const result = await start(assignment.id);
              if ('data' in result && result.data) void navigate(`/labs/${result.data.id}`);
            }}
          >
            Start
          </Button>
        )}
        {assignment.scoreboard && (
          <Button component={Link} to={`/assignments/${assignment.id}/scoreboard`}>
            Scoreboard
          </Button>
        )}
      </CardActions>
    </Card>
  );
}

/** A student's assignments, each with a Start button (or a link to the lab already started). */
export function MyAssignments() {
  const { data, error } = useMyAssignmentsQuery();
  if (!data?.items.length && !error) return null;
  return (
    <Stack spacing={1} component="section" aria-label="my assignments">
      <Typography variant="h5" component="h2">
        My assignments
      </Typography>
      <ErrorAlert error={error} />
      {data?.items.map((a) => (
        <AssignmentCard key={a.id} assignment={a} />
      ))}
    </Stack>
  );
}
