import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import List from '@mui/material/List';
import ListItem from '@mui/material/ListItem';
import ListItemText from '@mui/material/ListItemText';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useTemplateVerificationQuery, useVerifyTemplateMutation } from '../api/api.js';
import { ErrorAlert } from './ErrorAlert.js';

const SEVERITY = { passed: 'success', failed: 'error', error: 'error', running: 'info' } as const;

/** Staff: the template's last pre-class verification, per task, and a button to run one. */
export function VerificationPanel({ templateId }: { templateId: string }) {
  const last = useTemplateVerificationQuery(templateId);
  const running = last.data?.status === 'running';
  // While a run is under way the panel asks again every few seconds.
  useTemplateVerificationQuery(templateId, { pollingInterval: running ? 3000 : 0, skip: !running });
  const [verify, verifying] = useVerifyTemplateMutation();
  const v = last.data;
  return (
    <Paper variant="outlined" sx={{ p: 2 }} component="section" aria-label="verification">
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center', mb: 1 }}>
        <Typography variant="h6" component="h2" sx={{ flexGrow: 1 }}>
          Pre-class verification
        </Typography>
        <Button variant="outlined" disabled={running || verifying.isLoading} onClick={() => void verify(templateId)}>
          Verify now
        </Button>
      </Stack>
      <ErrorAlert error={verifying.error} />
      {!v && <Typography>Not verified yet: a verification runs every task's reference solution in a fresh lab.</Typography>}
      {v && (
        <>
          <Alert severity={SEVERITY[v.status]} aria-label="verification status">
            {v.status === 'running' ? 'Verification running…' : `Verification ${v.status}`} (version {v.templateVersion}
            {v.requestedBy ? `, by ${v.requestedBy}` : ''}, {new Date(v.createdAt).toLocaleString()}){v.message ? `: ${v.message}` : ''}
          </Alert>
          <List dense aria-label="verified tasks">
            {v.tasks.map((t) => (
              <ListItem key={t.taskId}>
                <ListItemText
                  primary={`${t.passed ? '✔' : '✘'} ${t.title} (${t.taskId}): ${t.passed ? 'pass' : 'fail'}`}
                  secondary={t.detail}
                />
              </ListItem>
            ))}
          </List>
        </>
      )}
    </Paper>
  );
}
