import Typography from '@mui/material/Typography';
import type { MyQuota } from '@ctp/contracts';
import { useMyQuotaQuery } from '../api/api.js';

const part = (used: number, limit: number | null, unit: string) => (limit === null ? null : `${used} of ${limit} ${unit}`);

/** The user's use against their limits in one line, e.g. "2 of 3 labs · 4 of 8 vCPUs"; limits that do not exist are left out. */
export function quotaSummary(quota: MyQuota): string {
  const parts = [
    part(quota.used.labs, quota.maxLabs.limit, quota.maxLabs.limit === 1 ? 'lab' : 'labs'),
    part(quota.used.vcpus, quota.maxVcpus.limit, 'vCPUs'),
    part(quota.used.memoryMiB, quota.maxMemoryMiB.limit, 'MiB of memory'),
  ].filter((p): p is string => p !== null);
  return parts.length ? parts.join(' · ') : `${quota.used.labs} ${quota.used.labs === 1 ? 'lab' : 'labs'}, no limit`;
}

/** "You use 2 of 3 labs …" under the labs heading (nothing while it loads or if it fails). */
export function QuotaUsage() {
  const { data } = useMyQuotaQuery();
  if (!data) return null;
  return (
    <Typography variant="body2" color="text.secondary" aria-label="quota">
      You use {quotaSummary(data)}
    </Typography>
  );
}
