import Typography from '@mui/material/Typography';
import { useEffect, useState } from 'react';
import { expiringSoon, timeLeft } from './countdown.js';

/** Time left until a lab expires, warning in colour in its last minutes. */
export function Countdown({ expiresAt }: { expiresAt: string | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return (
    <Typography component="span" color={expiringSoon(expiresAt, now) ? 'error' : 'text.secondary'} aria-label="time left">
      {timeLeft(expiresAt, now)}
    </Typography>
  );
}
