/** "1 h 05 min", "4 min 09 s", "expired": what is left until `expiresAt`. */
export function timeLeft(expiresAt: string | null, now: number): string {
  if (!expiresAt) return 'no limit';
  const ms = new Date(expiresAt).getTime() - now;
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Whether the countdown should warn: less than `minutes` left. */
export function expiringSoon(expiresAt: string | null, now: number, minutes = 10): boolean {
  if (!expiresAt) return false;
  const ms = new Date(expiresAt).getTime() - now;
  return ms > 0 && ms < minutes * 60_000;
}
