import Button from '@mui/material/Button';
import Divider from '@mui/material/Divider';
import LinearProgress from '@mui/material/LinearProgress';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { useParams } from 'react-router';
import {
  useAddInstructorMutation,
  useClassQuery,
  useRemoveInstructorMutation,
  useRemoveStudentMutation,
  useUpdateClassMutation,
} from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { AssignmentsPanel } from './AssignmentsPanel.js';
import { RosterImport } from './RosterImport.js';

/** One class for its instructors: co-teachers, students (CSV import), assignments, archive. */
export function ClassPage() {
  const { classId = '' } = useParams();
  const { data, error, isLoading } = useClassQuery(classId);
  const [update, updating] = useUpdateClassMutation();
  const [addInstructor, adding] = useAddInstructorMutation();
  const [removeInstructor, removingInstructor] = useRemoveInstructorMutation();
  const [removeStudent, removingStudent] = useRemoveStudentMutation();
  const [coTeacher, setCoTeacher] = useState('');
  if (isLoading) return <LinearProgress aria-label="loading" />;
  if (!data) return <ErrorAlert error={error} />;
  return (
    <Stack spacing={2}>
      <Stack direction="row" sx={{ alignItems: 'center' }}>
        <Typography variant="h4" component="h1" sx={{ flexGrow: 1 }}>
          {data.name}
          {data.archived ? ' (archived)' : ''}
        </Typography>
        <Button onClick={() => update({ id: data.id, changes: { archived: !data.archived } })} disabled={updating.isLoading}>
          {data.archived ? 'Unarchive' : 'Archive'}
        </Button>
      </Stack>
      {data.description && <Typography>{data.description}</Typography>}
      <ErrorAlert error={updating.error ?? adding.error ?? removingInstructor.error ?? removingStudent.error} />

      <Stack spacing={1} component="section" aria-label="instructors">
        <Typography variant="h6" component="h2">
          Instructors
        </Typography>
        {data.instructors.map((i) => (
          <Stack key={i.id} direction="row" spacing={1} sx={{ alignItems: 'center' }}>
            <Typography>{i.username}</Typography>
            <Button size="small" onClick={() => removeInstructor({ id: data.id, username: i.username })}>
              Remove
            </Button>
          </Stack>
        ))}
        <Stack
          direction="row"
          spacing={1}
          component="form"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await addInstructor({ id: data.id, username: coTeacher });
            if ('data' in result) setCoTeacher('');
          }}
        >
          <TextField label="Co-teacher username" value={coTeacher} onChange={(e) => setCoTeacher(e.target.value)} size="small" />
          <Button type="submit" disabled={!coTeacher.trim()}>
            Add co-teacher
          </Button>
        </Stack>
      </Stack>
      <Divider />

      <Stack spacing={1} component="section" aria-label="students">
        <Typography variant="h6" component="h2">
          Students ({data.students.length})
        </Typography>
        <Table size="small" aria-label="enrolled students">
          <TableHead>
            <TableRow>
              <TableCell>Username</TableCell>
              <TableCell>Name</TableCell>
              <TableCell>Email</TableCell>
              <TableCell />
            </TableRow>
          </TableHead>
          <TableBody>
            {data.students.map((s) => (
              <TableRow key={s.id}>
                <TableCell>{s.username}</TableCell>
                <TableCell>{s.name ?? ''}</TableCell>
                <TableCell>{s.email ?? ''}</TableCell>
                <TableCell>
                  <Button size="small" onClick={() => removeStudent({ id: data.id, username: s.username })}>
                    Remove
                  </Button>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
        {!data.archived && <RosterImport classId={data.id} />}
      </Stack>
      <Divider />
      <AssignmentsPanel classId={data.id} />
    </Stack>
  );
}
