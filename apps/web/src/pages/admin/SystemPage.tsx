import Chip from '@mui/material/Chip';
import Paper from '@mui/material/Paper';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import { useAdmissionQuery, useSystemQuery } from '../../api/api.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';

/** The hypervisor in use (KVM or TCG) and its capabilities, base images and capacity. */
export function SystemPage() {
  const { data, error } = useSystemQuery();
  const admission = useAdmissionQuery().data;
  if (!data) return <ErrorAlert error={error} />;
  const { hypervisor, capacity } = data;
  return (
    <Stack spacing={2}>
      <Typography variant="h4" component="h1">
        System
      </Typography>
      <Paper variant="outlined" sx={{ p: 2 }} aria-label="hypervisor">
        <Typography variant="h6" component="h2">
          Hypervisor: {hypervisor.driver} {hypervisor.version} — {hypervisor.accelerator.toUpperCase()}
        </Typography>
        <Stack direction="row" spacing={1} sx={{ my: 1, flexWrap: 'wrap' }}>
          {Object.entries(hypervisor.capabilities).map(([key, value]) => (
            <Chip key={key} size="small" label={`${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}`} />
          ))}
        </Stack>
        {hypervisor.notes.map((note) => (
          <Typography key={note} variant="body2" color="text.secondary">
            {note}
          </Typography>
        ))}
      </Paper>
      <Paper variant="outlined" sx={{ p: 2 }} aria-label="capacity">
        <Typography variant="h6" component="h2">
          Capacity
        </Typography>
        <Typography>
          {capacity.labsActive} labs active, {capacity.vmsRunning} VMs running using {capacity.vmMemoryMiB} MiB; host {capacity.hostCpus}{' '}
          CPUs, {capacity.freeMemoryMiB} of {capacity.hostMemoryMiB} MiB free. Database: {data.database}.
        </Typography>
        {admission && (
          <Typography aria-label="admission">
            Admission: labs hold {admission.usedCpus} of {admission.cpuLimit} vCPUs (×{admission.settings.cpuOvercommit}) and{' '}
            {admission.usedMemoryMiB} of {admission.memoryLimitMiB} MiB (×{admission.settings.memoryOvercommit},{' '}
            {admission.settings.reservedMemoryMiB} MiB kept for the host); {admission.queued} lab{admission.queued === 1 ? '' : 's'} queued.
          </Typography>
        )}
      </Paper>
      <Paper variant="outlined" sx={{ p: 2 }} aria-label="images">
        <Typography variant="h6" component="h2">
          Base images
        </Typography>
        {data.images.map((image) => (
          <Typography key={image.name}>
            {image.name} ({image.kind}) — {image.available ? 'available' : 'missing: run scripts/build-demo-images.sh'}
          </Typography>
        ))}
      </Paper>
    </Stack>
  );
}
