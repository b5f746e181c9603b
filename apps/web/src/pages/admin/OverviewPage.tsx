import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import ToggleButton from '@mui/material/ToggleButton';
import ToggleButtonGroup from '@mui/material/ToggleButtonGroup';
import Typography from '@mui/material/Typography';
import { useState, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { PlatformSample } from '@ctp/contracts';
import { useStatsQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** One chart in a titled panel; the label names it for screen readers and tests. */
function Panel({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper variant="outlined" sx={{ p: 2 }} aria-label={title} role="figure">
      <Typography variant="h6" component="h2">
        {title}
      </Typography>
      <ResponsiveContainer width="100%" height={220}>
        {children as never}
      </ResponsiveContainer>
    </Paper>
  );
}

/** Points of the charts: one per sampled minute. */
function points(samples: PlatformSample[]) {
  return samples.map((s) => ({
    at: time(s.at),
    labs: Object.entries(s.labs)
      .filter(([state]) => state !== 'error')
      .reduce((sum, [, n]) => sum + n, 0),
    vmsRunning: s.vmsRunning,
    p50: s.provisionP50Seconds,
    p95: s.provisionP95Seconds,
    readyP50: s.readyP50Seconds,
    readyP95: s.readyP95Seconds,
    provisions: s.provisions,
    failures: s.provisionFailures,
    memoryUsed: s.vmMemoryMiB,
    memory: s.hostMemoryMiB,
    cpusUsed: s.vmCpus,
    cpus: s.hostCpus,
  }));
}

/** How the platform ran, from its own minute samples (no Prometheus needed). Loaded only on this route, with its chart library. */
export function OverviewPage() {
  const [hours, setHours] = useState(24);
  const { data, error } = useStatsQuery({ hours }, { pollingInterval: 60_000 });
  if (!data) return <ErrorAlert error={error} />;
  const rows = points(data.samples);
  return (
    <Stack spacing={2}>
      <Stack direction="row" sx={{ justifyContent: 'space-between', alignItems: 'center' }}>
        <Typography variant="h4" component="h1">
          Overview
        </Typography>
        <ToggleButtonGroup size="small" exclusive value={hours} onChange={(_e, v: number | null) => v && setHours(v)} aria-label="period">
          <ToggleButton value={6}>6 h</ToggleButton>
          <ToggleButton value={24}>24 h</ToggleButton>
          <ToggleButton value={24 * 7}>7 days</ToggleButton>
        </ToggleButtonGroup>
      </Stack>
      {rows.length === 0 && <Typography color="text.secondary">No samples yet: the platform takes one every minute.</Typography>}
      <Panel title="Labs and VMs">
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="at" />
          <YAxis allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Line type="monotone" dataKey="labs" name="labs" stroke="#1976d2" dot={false} isAnimationActive={false} />
          <Line type="monotone" dataKey="vmsRunning" name="VMs running" stroke="#2e7d32" dot={false} isAnimationActive={false} />
        </LineChart>
      </Panel>
      <Panel title="Provisioning time (request to running, seconds)">
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="at" />
          <YAxis />
          <Tooltip />
          <Legend />
          <Line type="monotone" dataKey="p50" name="median" stroke="#1976d2" connectNulls isAnimationActive={false} />
          <Line type="monotone" dataKey="p95" name="p95" stroke="#ed6c02" connectNulls isAnimationActive={false} />
        </LineChart>
      </Panel>
      <Panel title="Time to ready (request to every guest answering, seconds)">
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="at" />
          <YAxis />
          <Tooltip />
          <Legend />
          <Line type="monotone" dataKey="readyP50" name="median" stroke="#1976d2" connectNulls isAnimationActive={false} />
          <Line type="monotone" dataKey="readyP95" name="p95" stroke="#ed6c02" connectNulls isAnimationActive={false} />
        </LineChart>
      </Panel>
      <Panel title="Provisionings and failures">
        <BarChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="at" />
          <YAxis allowDecimals={false} />
          <Tooltip />
          <Legend />
          <Bar dataKey="provisions" name="labs provisioned" fill="#2e7d32" isAnimationActive={false} />
          <Bar dataKey="failures" name="failures" fill="#d32f2f" isAnimationActive={false} />
        </BarChart>
      </Panel>
      <Panel title="Host capacity (memory MiB)">
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="at" />
          <YAxis />
          <Tooltip />
          <Legend />
          <Line type="monotone" dataKey="memoryUsed" name="given to VMs" stroke="#ed6c02" dot={false} isAnimationActive={false} />
          <Line type="monotone" dataKey="memory" name="host memory" stroke="#616161" dot={false} isAnimationActive={false} />
        </LineChart>
      </Panel>
    </Stack>
  );
}
