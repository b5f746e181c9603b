import Button from '@mui/material/Button';
import FormControlLabel from '@mui/material/FormControlLabel';
import Stack from '@mui/material/Stack';
import Switch from '@mui/material/Switch';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useClassesQuery, useCreateClassMutation } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

/** The classes an instructor teaches (admins: all): create one, open one. */
export function ClassesPage() {
  const [includeArchived, setIncludeArchived] = useState(false);
  const { data, error } = useClassesQuery({ includeArchived });
  const [create, creating] = useCreateClassMutation();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const navigate = useNavigate();
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        Classes
      </Typography>
      <ErrorAlert error={error} />
      <Stack
        direction={{ xs: 'column', sm: 'row' }}
        spacing={1}
        component="form"
        aria-label="new class"
        onSubmit={async (e) => {
          e.preventDefault();
          const result = await create({ name, description });
          if ('data' in result && result.data) {
            setName('');
            setDescription('');
            void navigate(`/staff/classes/${result.data.id}`);
          }
        }}
      >
        <TextField label="Class name" value={name} onChange={(e) => setName(e.target.value)} required size="small" />
        <TextField
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          size="small"
          sx={{ flexGrow: 1 }}
        />
        <Button type="submit" variant="contained" disabled={!name.trim() || creating.isLoading}>
          Create class
        </Button>
      </Stack>
      <ErrorAlert error={creating.error} />
      <FormControlLabel
        control={<Switch checked={includeArchived} onChange={(e) => setIncludeArchived(e.target.checked)} />}
        label="Show archived classes"
      />
      <Table size="small" aria-label="classes">
        <TableHead>
          <TableRow>
            <TableCell>Name</TableCell>
            <TableCell>Instructors</TableCell>
            <TableCell>Students</TableCell>
            <TableCell>State</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {data?.items.map((c) => (
            <TableRow key={c.id}>
              <TableCell>
                <Link to={`/staff/classes/${c.id}`}>{c.name}</Link>
              </TableCell>
              <TableCell>{c.instructors.join(', ')}</TableCell>
              <TableCell>{c.studentCount ?? ''}</TableCell>
              <TableCell>{c.archived ? 'archived' : 'active'}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
      {data && data.items.length === 0 && <Typography>No classes yet. Create one above.</Typography>}
    </Stack>
  );
}
