import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Paper from '@mui/material/Paper';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { useState, type FormEvent } from 'react';
import { useLoginMutation } from '../api/api.js';
import { signedIn } from '../api/session.slice.js';
import { useAppDispatch } from '../api/store.js';
import { ErrorAlert } from '../components/ErrorAlert.js';

/** Sign-in; bad credentials and rate limiting show the server's message. */
export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [login, { isLoading, error }] = useLoginMutation();
  const dispatch = useAppDispatch();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await login({ username, password });
    if ('data' in result && result.data)
      dispatch(signedIn({ accessToken: result.data.accessToken, user: result.data.user, permissions: result.data.permissions }));
  };
  return (
    <Box sx={{ display: 'grid', placeItems: 'center', minHeight: '100vh', bgcolor: 'grey.100' }}>
      <Paper component="form" onSubmit={submit} sx={{ p: 4, width: 360 }} aria-labelledby="login-title">
        <Typography id="login-title" variant="h5" component="h1" gutterBottom>
          Sign in
        </Typography>
        <TextField
          label="Username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          fullWidth
          margin="normal"
          autoComplete="username"
          required
          autoFocus
        />
        <TextField
          label="Password"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          fullWidth
          margin="normal"
          autoComplete="current-password"
          required
        />
        <ErrorAlert error={error} />
        <Button type="submit" variant="contained" fullWidth disabled={isLoading} sx={{ mt: 2 }}>
          {isLoading ? 'Signing in…' : 'Sign in'}
        </Button>
      </Paper>
    </Box>
  );
}
