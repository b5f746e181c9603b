import Type, { type Static } from 'typebox';

export const SystemInfo = Type.Object({
  hypervisor: Type.Object({
    driver: Type.String(),
    version: Type.String(),
    accelerator: Type.String({ description: 'kvm or tcg for QEMU' }),
    capabilities: Type.Object({
      snapshots: Type.Boolean(),
      liveSnapshots: Type.Boolean(),
      linkedClones: Type.Boolean(),
      pause: Type.Boolean(),
      consoles: Type.Array(Type.String()),
      networkIsolation: Type.String(),
      guestAgent: Type.Boolean({ description: 'VMs have the private guest channel (per-lab secrets, checks).' }),
    }),
    notes: Type.Array(Type.String()),
  }),
  images: Type.Array(Type.Object({ name: Type.String(), kind: Type.String(), available: Type.Boolean() })),
  capacity: Type.Object({
    hostCpus: Type.Integer(),
    hostMemoryMiB: Type.Integer(),
    freeMemoryMiB: Type.Integer(),
    labsActive: Type.Integer(),
    vmsRunning: Type.Integer(),
    vmMemoryMiB: Type.Integer({ description: 'Memory given to running VMs.' }),
  }),
  database: Type.String(),
});
export type SystemInfo = Static<typeof SystemInfo>;
