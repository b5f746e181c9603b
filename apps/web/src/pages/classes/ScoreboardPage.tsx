import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useParams } from 'react-router';
import { useScoreboardQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

/** An assignment's scoreboard (students see it when the instructor turned it on). */
export function ScoreboardPage() {
  const { assignmentId = '' } = useParams();
  const { data, error } = useScoreboardQuery(assignmentId);
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Scoreboard
      </Typography>
      <ErrorAlert error={error} />
      {data && (
        <Table size="small" aria-label="scoreboard">
          <TableHead>
            <TableRow>
              <TableCell>Rank</TableCell>
              <TableCell>Student</TableCell>
              <TableCell>Score (of {data.maxScore})</TableCell>
              <TableCell>Tasks solved</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {data.items.map((line) => (
              <TableRow key={line.username}>
                <TableCell>{line.rank}</TableCell>
                <TableCell>{line.username}</TableCell>
                <TableCell>{line.score}</TableCell>
                <TableCell>{line.solved}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </Stack>
  );
}
