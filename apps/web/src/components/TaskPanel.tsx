import Alert from '@mui/material/Alert';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import Chip from '@mui/material/Chip';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormGroup from '@mui/material/FormGroup';
import LinearProgress from '@mui/material/LinearProgress';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import type { LabTask, LabTaskHint } from '@ctp/contracts';
import {
  useLabTasksQuery,
  useRevealHintMutation,
  useRevealSolutionMutation,
  useRunCheckMutation,
  useSubmitAnswerMutation,
} from '../api/api.js';
import { ConfirmDialog } from './ConfirmDialog.js';
import { ErrorAlert } from './ErrorAlert.js';
import { Markdown } from './Markdown.js';

function Hints({ labId, task }: { labId: string; task: LabTask }) {
  const [reveal, revealing] = useRevealHintMutation();
  const [asking, setAsking] = useState<LabTaskHint | null>(null);
  if (!task.hints.length) return null;
  return (
    <Stack spacing={1}>
      {task.hints.map((hint, i) =>
        hint.revealed ? (
          <Alert key={hint.id} severity="info" aria-label={`hint ${i + 1} of ${task.title}`}>
            <Markdown text={hint.text ?? ''} />
          </Alert>
        ) : (
          <Button
            key={hint.id}
            size="small"
            variant="text"
            sx={{ alignSelf: 'flex-start' }}
            disabled={revealing.isLoading}
            onClick={() => setAsking(hint)}
          >
            Hint {i + 1} ({hint.cost ? `costs ${hint.cost} points` : 'free'})
          </Button>
        ),
      )}
      <ErrorAlert error={revealing.error} />
      <ConfirmDialog
        open={asking !== null}
        title="Reveal this hint?"
        confirmLabel="Reveal"
        onClose={() => setAsking(null)}
        onConfirm={() => void reveal({ labId, taskId: task.id, hintId: asking!.id })}
      >
        {asking?.cost ? `This hint costs ${asking.cost} points of “${task.title}”.` : 'This hint is free.'}
      </ConfirmDialog>
    </Stack>
  );
}

function AnswerForm({ labId, task }: { labId: string; task: LabTask }) {
  const [submit, submitting] = useSubmitAnswerMutation();
  const [text, setText] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const out = task.attemptsLeft === 0;
  const result = submitting.data;
  return (
    <Stack
      component="form"
      spacing={1}
      onSubmit={(e) => {
        e.preventDefault();
        void submit({ labId, taskId: task.id, answer: task.type === 'choice' ? chosen : text.trim() });
      }}
    >
      {task.type === 'choice' ? (
        <FormGroup aria-label={`options of ${task.title}`}>
          {(task.options ?? []).map((o) => (
            <FormControlLabel
              key={o.id}
              label={o.text}
              control={
                <Checkbox
                  checked={chosen.includes(o.id)}
                  onChange={(e) => setChosen((c) => (e.target.checked ? [...c, o.id] : c.filter((id) => id !== o.id)))}
                />
              }
            />
          ))}
        </FormGroup>
      ) : (
        <TextField
          size="small"
          label={`Answer to ${task.title}`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          autoComplete="off"
        />
      )}
      <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
        <Button
          type="submit"
          variant="contained"
          size="small"
          disabled={out || submitting.isLoading || (task.type === 'choice' ? !chosen.length : !text.trim())}
        >
          Submit
        </Button>
        {task.attemptsLeft !== null && <Typography variant="body2">{task.attemptsLeft} attempts left</Typography>}
      </Stack>
      {result && !result.correct && result.task.id === task.id && (
        <Alert severity="warning">Not correct{result.attemptsLeft === 0 ? ': no attempts left' : ''}.</Alert>
      )}
      <ErrorAlert error={submitting.error} />
    </Stack>
  );
}

function CheckButton({ labId, task }: { labId: string; task: LabTask }) {
  const [check, checking] = useRunCheckMutation();
  const last = checking.data ?? task.lastCheck;
  return (
    <Stack spacing={1}>
      <Button
        variant="contained"
        size="small"
        sx={{ alignSelf: 'flex-start' }}
        disabled={checking.isLoading}
        onClick={() => void check({ labId, taskId: task.id })}
      >
        {checking.isLoading ? 'Checking…' : 'Check'}
      </Button>
      {last && (
        <Alert severity={last.passed ? 'success' : 'warning'} aria-label={`check result of ${task.title}`}>
          {last.passed ? 'Check passed.' : 'Check failed.'}
          {last.output && (
            <Typography component="pre" variant="body2" sx={{ m: 0, whiteSpace: 'pre-wrap' }}>
              {last.output}
            </Typography>
          )}
        </Alert>
      )}
      <ErrorAlert error={checking.error} />
    </Stack>
  );
}

function TaskCard({ labId, task }: { labId: string; task: LabTask }) {
  const [solution, revealing] = useRevealSolutionMutation();
  const [confirm, setConfirm] = useState(false);
  const stateLabel = { locked: `Locked until ${task.requires.join(', ')} solved`, open: 'Open', solved: 'Solved' }[task.state];
  return (
    <Paper variant="outlined" sx={{ p: 2 }} component="section" aria-label={`task ${task.title}`}>
      <Stack spacing={1}>
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center', flexWrap: 'wrap' }}>
          <Typography variant="h6" component="h3">
            {task.title}
          </Typography>
          <Chip size="small" label={stateLabel} color={task.state === 'solved' ? 'success' : 'default'} />
          {task.points > 0 && (
            <Typography variant="body2">
              {task.state === 'solved' ? `${task.awarded} / ${task.points} points` : `worth ${task.worth} of ${task.points} points`}
            </Typography>
          )}
        </Stack>
        <Markdown text={task.body} />
        {task.state === 'open' && (task.type === 'answer' || task.type === 'choice') && <AnswerForm labId={labId} task={task} />}
        {task.state !== 'locked' && task.type === 'check' && <CheckButton labId={labId} task={task} />}
        {task.state !== 'locked' && <Hints labId={labId} task={task} />}
        {task.solutionRevealed && task.solution && (
          <Alert severity="info" aria-label={`solution of ${task.title}`}>
            <Markdown text={task.solution} />
          </Alert>
        )}
        {task.solutionAvailable && !task.solutionRevealed && task.state !== 'locked' && (
          <Button size="small" color="warning" sx={{ alignSelf: 'flex-start' }} onClick={() => setConfirm(true)}>
            Show the solution
          </Button>
        )}
        <ErrorAlert error={revealing.error} />
        <ConfirmDialog
          open={confirm}
          title="Show the solution?"
          confirmLabel="Show"
          onClose={() => setConfirm(false)}
          onConfirm={() => void solution({ labId, taskId: task.id })}
        >
          “{task.title}” is then worth 0 points.
        </ConfirmDialog>
      </Stack>
    </Paper>
  );
}

/** The lab's tasks: Markdown bodies, answers, choices, checks, hints (cost confirmed first), score; updated live. */
export function TaskPanel({ labId }: { labId: string }) {
  const { data, error, isLoading } = useLabTasksQuery(labId);
  if (isLoading) return <LinearProgress aria-label="loading tasks" />;
  if (!data) return <ErrorAlert error={error} />;
  if (!data.tasks.length) return null;
  const solved = data.tasks.filter((t) => t.state === 'solved').length;
  return (
    <Stack spacing={2} component="section" aria-label="tasks">
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center' }}>
        <Typography variant="h5" component="h2">
          Tasks
        </Typography>
        <Typography aria-label="score">
          Score {data.score} / {data.maxScore} · {solved} of {data.tasks.length} solved
        </Typography>
      </Stack>
      <LinearProgress variant="determinate" value={data.tasks.length ? (100 * solved) / data.tasks.length : 0} aria-label="tasks solved" />
      {data.tasks.map((task) => (
        <TaskCard key={task.id} labId={labId} task={task} />
      ))}
    </Stack>
  );
}
