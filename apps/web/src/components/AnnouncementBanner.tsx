import Alert from '@mui/material/Alert';
import Stack from '@mui/material/Stack';
import { useState } from 'react';
import { useAnnouncementsQuery } from '../api/api.js';

/** The class's recent announcements as banners on every page (arriving live); each can be dismissed. */
export function AnnouncementBanner() {
  const { data } = useAnnouncementsQuery();
  const [dismissed, setDismissed] = useState<string[]>(() => JSON.parse(sessionStorage.getItem('ctp-dismissed') ?? '[]') as string[]);
  const shown = (data?.items ?? []).filter((a) => !dismissed.includes(a.id)).slice(0, 3);
  if (shown.length === 0) return null;
  const dismiss = (id: string) => {
    const next = [...dismissed, id];
    setDismissed(next);
    sessionStorage.setItem('ctp-dismissed', JSON.stringify(next));
  };
  return (
    <Stack spacing={1} sx={{ mb: 2 }} aria-label="announcements">
      {shown.map((a) => (
        <Alert key={a.id} severity="info" role="alert" onClose={() => dismiss(a.id)} data-testid="announcement">
          <strong>{a.className}</strong>
          {a.by ? ` (${a.by})` : ''}: {a.message}
        </Alert>
      ))}
    </Stack>
  );
}
