import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import { useState } from 'react';
import { useAskHelpMutation, useHelpActionMutation, useLabHelpQuery } from '../api/api.js';
import { ErrorAlert } from './ErrorAlert.js';

/** "Ask for help" on a lab page, and where the lab's request stands (updated live from `help.*` events). */
export function HelpPanel({ labId }: { labId: string }) {
  const help = useLabHelpQuery(labId);
  const [ask, asking] = useAskHelpMutation();
  const [act] = useHelpActionMutation();
  const [open, setOpen] = useState(false);
  const [message, setMessage] = useState('');
  const waiting = help.data?.items.find((r) => r.status === 'open' || r.status === 'taken');
  const send = async () => {
    const result = await ask({ labId, message });
    if (!('error' in result)) {
      setOpen(false);
      setMessage('');
    }
  };
  return (
    <Stack spacing={1} aria-label="help">
      {waiting ? (
        <Alert
          severity={waiting.status === 'taken' ? 'success' : 'info'}
          role="status"
          aria-label="help request"
          action={
            <Button color="inherit" size="small" onClick={() => void act({ id: waiting.id, action: 'resolve' })}>
              Withdraw
            </Button>
          }
        >
          {waiting.status === 'taken'
            ? `${waiting.takenBy ?? 'An instructor'} is coming to help you.`
            : `Help requested — you are number ${waiting.position ?? '?'} in the queue.`}
        </Alert>
      ) : (
        <Button variant="outlined" onClick={() => setOpen(true)} sx={{ alignSelf: 'flex-start' }}>
          Ask for help
        </Button>
      )}
      <Dialog open={open} onClose={() => setOpen(false)} aria-labelledby="help-title" fullWidth>
        <DialogTitle id="help-title">Ask for help</DialogTitle>
        <DialogContent>
          <TextField
            autoFocus
            fullWidth
            multiline
            minRows={3}
            label="What are you stuck on?"
            value={message}
            onChange={(e) => setMessage(e.target.value)}
            slotProps={{ htmlInput: { maxLength: 1000 } }}
            sx={{ mt: 1 }}
          />
          <ErrorAlert error={asking.error} />
        </DialogContent>
        <DialogActions>
          <Button onClick={() => setOpen(false)}>Cancel</Button>
          <Button variant="contained" disabled={!message.trim() || asking.isLoading} onClick={() => void send()}>
            Send
          </Button>
        </DialogActions>
      </Dialog>
    </Stack>
  );
}
