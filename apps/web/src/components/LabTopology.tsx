import Box from '@mui/material/Box';
import type { LabDetail } from '@ctp/contracts';

/** A drawing of the lab: each network as a bar, each VM as a box wired to the networks it is on. */
export function LabTopology({ lab }: { lab: Pick<LabDetail, 'networks' | 'vms'> }) {
  const width = Math.max(480, lab.vms.length * 170);
  const vmX = (i: number) => 20 + i * ((width - 40) / Math.max(lab.vms.length, 1)) + 10;
  const netY = (i: number) => 150 + i * 50;
  const height = 170 + lab.networks.length * 50;
  return (
    <Box component="figure" sx={{ m: 0, overflowX: 'auto' }} aria-label="lab topology">
      <svg width={width} height={height} role="img" aria-label={`${lab.vms.length} VMs on ${lab.networks.length} networks`}>
        {lab.networks.map((network, n) => (
          <g key={network.name}>
            <line x1={10} x2={width - 10} y1={netY(n)} y2={netY(n)} stroke="#1976d2" strokeWidth={4} />
            <text x={12} y={netY(n) + 18} fontSize={12} fill="#1976d2">
              {network.name} {network.cidr}
            </text>
          </g>
        ))}
        {lab.vms.map((vm, i) => (
          <g key={vm.id}>
            {vm.addresses.map((a) => {
              const n = lab.networks.findIndex((net) => net.name === a.network);
              return n < 0 ? null : <line key={a.network} x1={vmX(i) + 60} x2={vmX(i) + 60} y1={80} y2={netY(n)} stroke="#555" />;
            })}
            <rect x={vmX(i)} y={20} width={120} height={60} rx={8} fill={vm.status === 'running' ? '#e8f5e9' : '#f5f5f5'} stroke="#555" />
            <text x={vmX(i) + 60} y={45} textAnchor="middle" fontSize={14} fontWeight="bold">
              {vm.name}
            </text>
            <text x={vmX(i) + 60} y={65} textAnchor="middle" fontSize={11}>
              {vm.addresses
                .map((a) => a.address)
                .filter(Boolean)
                .join(', ') || vm.status}
            </text>
          </g>
        ))}
      </svg>
    </Box>
  );
}
