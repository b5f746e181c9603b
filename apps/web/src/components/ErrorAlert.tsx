import Alert from '@mui/material/Alert';
import { errorMessage } from '../api/base-query.js';

/** Shows the server's message for a failed request, with field details when there are some. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const details =
    (error as { data?: { error?: { details?: { field?: string; message: string; line?: number }[] } } }).data?.error?.details ?? [];
  return (
    <Alert severity="error" role="alert" sx={{ my: 1 }}>
      {errorMessage(error)}
      {details.length > 1 && (
        <ul style={{ margin: '4px 0 0', paddingLeft: 18 }}>
          {details.map((d, i) => (
            <li key={i}>
              {d.line ? `line ${d.line}: ` : ''}
              {d.field ? `${d.field}: ` : ''}
              {d.message}
            </li>
          ))}
        </ul>
      )}
    </Alert>
  );
}
