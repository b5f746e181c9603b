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

export const PlatformSample = Type.Object({
  at: Type.String({ format: 'date-time', description: 'The end of the sampled minute.' }),
  labs: Type.Record(Type.String(), Type.Integer(), { description: 'Labs by state (deleted ones not counted).' }),
  vmsRunning: Type.Integer(),
  vmsTotal: Type.Integer(),
  vmCpus: Type.Integer({ description: 'vCPUs of running VMs.' }),
  vmMemoryMiB: Type.Integer({ description: 'Memory of running VMs.' }),
  hostCpus: Type.Integer(),
  hostMemoryMiB: Type.Integer(),
  provisions: Type.Integer({ description: 'Labs that reached running in the minute.' }),
  provisionFailures: Type.Integer({ description: 'Labs whose provisioning failed in the minute.' }),
  provisionP50Seconds: Type.Union([Type.Number(), Type.Null()], { description: 'Median request-to-running time in the minute.' }),
  provisionP95Seconds: Type.Union([Type.Number(), Type.Null()]),
  readyP50Seconds: Type.Union([Type.Number(), Type.Null()], {
    description: 'Median request-to-ready time (every guest answered on its private channel) of labs ready in the minute.',
  }),
  readyP95Seconds: Type.Union([Type.Number(), Type.Null()]),
});
export type PlatformSample = Static<typeof PlatformSample>;

export const PlatformStats = Type.Object({ samples: Type.Array(PlatformSample) });
export type PlatformStats = Static<typeof PlatformStats>;

export const PlatformStatsQuery = Type.Object(
  { hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 31, description: 'How far back (default 24).' })) },
  { additionalProperties: false },
);
export type PlatformStatsQuery = Static<typeof PlatformStatsQuery>;

/** Admission control settings (admin): how far the host's vCPUs and RAM may be promised to labs. */
export const AdmissionSettings = Type.Object(
  {
    cpuOvercommit: Type.Number({ minimum: 0.1, maximum: 64, description: 'vCPUs promised per host CPU (default 16).' }),
    memoryOvercommit: Type.Number({
      minimum: 0.1,
      maximum: 4,
      description: 'VM memory promised per MiB of the host (default 1.0: RAM is never overcommitted).',
    }),
    reservedMemoryMiB: Type.Integer({ minimum: 0, maximum: 1_048_576, description: 'Host memory kept for the host itself (default 512).' }),
    queueWhenFull: Type.Optional(
      Type.Boolean({
        description:
          'When no host has room: true (default) queues the lab in FIFO order with its position; false refuses it at once (503 `no_capacity`).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AdmissionSettings = Static<typeof AdmissionSettings>;

/** What the host can take and what labs hold: labs that do not fit wait in a FIFO queue. */
export const AdmissionStatus = Type.Object({
  settings: AdmissionSettings,
  hostCpus: Type.Integer({ description: 'CPUs of the `up` hosts together.' }),
  hostMemoryMiB: Type.Integer({ description: 'Memory of the `up` hosts together.' }),
  cpuLimit: Type.Integer({ description: 'vCPUs labs may hold: the sum over `up` hosts of host CPUs × cpuOvercommit.' }),
  memoryLimitMiB: Type.Integer({
    description: 'VM memory labs may hold: the sum over `up` hosts of (host memory − reserved) × memoryOvercommit.',
  }),
  usedCpus: Type.Integer({ description: 'vCPUs held by admitted labs (every state but queued, deleted and error).' }),
  usedMemoryMiB: Type.Integer(),
  queued: Type.Integer({ description: 'Labs waiting for capacity.' }),
});
export type AdmissionStatus = Static<typeof AdmissionStatus>;
