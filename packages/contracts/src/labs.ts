import { LabHost } from './hosts.js';
import Type, { type Static } from 'typebox';
import { Page, PageQuery, Timestamp, Uuid } from './common.js';

export const LAB_STATUSES = [
  'queued',
  'provisioning',
  'running',
  'starting',
  'stopping',
  'stopped',
  'resetting',
  'deleting',
  'deleted',
  'error',
] as const;
export const LabStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('provisioning'),
  Type.Literal('running'),
  Type.Literal('starting'),
  Type.Literal('stopping'),
  Type.Literal('stopped'),
  Type.Literal('resetting'),
  Type.Literal('deleting'),
  Type.Literal('deleted'),
  Type.Literal('error'),
]);
export type LabStatus = (typeof LAB_STATUSES)[number];

export const VmStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('stopped'),
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('error'),
  Type.Literal('missing'),
  Type.Literal('deleted'),
]);
export type VmStatus = 'pending' | 'stopped' | 'starting' | 'running' | 'paused' | 'error' | 'missing' | 'deleted';

export const LabStep = Type.Object({
  seq: Type.Integer(),
  name: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  startedAt: Type.Union([Timestamp, Type.Null()]),
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type LabStep = Static<typeof LabStep>;

export const LabVm = Type.Object({
  id: Uuid,
  name: Type.String(),
  status: VmStatus,
  addresses: Type.Array(Type.Object({ network: Type.String(), address: Type.Union([Type.String(), Type.Null()]) })),
  consoles: Type.Array(Type.Union([Type.Literal('serial'), Type.Literal('vnc')])),
  studentControl: Type.Boolean(),
  cpus: Type.Integer(),
  memoryMiB: Type.Integer(),
  credentials: Type.Union([Type.Object({ username: Type.String(), password: Type.String() }), Type.Null()], {
    description: "The guest's login, generated for this lab (full-OS images configured by cloud-init); null for others.",
  }),
});
export type LabVm = Static<typeof LabVm>;

const labFields = {
  id: Uuid,
  name: Type.String(),
  status: LabStatus,
  ownerId: Uuid,
  ownerUsername: Type.String(),
  templateId: Type.Union([Uuid, Type.Null()]),
  templateVersion: Type.Integer(),
  createdAt: Timestamp,
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer(), current: Type.Union([Type.String(), Type.Null()]) }),
  error: Type.Union([Type.Object({ step: Type.Union([Type.String(), Type.Null()]), message: Type.String() }), Type.Null()]),
  /** Staff: a warm pool lab, provisioned ahead and not yet handed to a student. */
  pool: Type.Optional(Type.Boolean()),
  /** While `queued` (waiting for the host's capacity): 1 for the next lab to start, else null. */
  queuePosition: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
};
export const Lab = Type.Object(labFields);
export type Lab = Static<typeof Lab>;

export const LabDetail = Type.Object({
  ...labFields,
  networks: Type.Array(Type.Object({ name: Type.String(), cidr: Type.String() })),
  vms: Type.Array(LabVm),
  steps: Type.Array(LabStep),
  members: Type.Array(Type.Object({ id: Uuid, username: Type.String() })),
  description: Type.String(),
  /** True while the lab's host has stopped heartbeating (`down`): its machines cannot be reached. */
  hostUnreachable: Type.Boolean(),
  /** Staff only: the host the lab's VMs live on (null while queued). */
  host: Type.Optional(Type.Union([LabHost, Type.Null()])),
});
export type LabDetail = Static<typeof LabDetail>;

export const LabList = Page(Lab);
export type LabList = Static<typeof LabList>;

export const ListLabsQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(LabStatus),
    ownerId: Type.Optional(Uuid),
    templateId: Type.Optional(Uuid),
    all: Type.Optional(
      Type.Boolean({ description: 'Every lab you may watch: admins all, instructors also those of the students they teach.' }),
    ),
    includeDeleted: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ListLabsQuery = Static<typeof ListLabsQuery>;

export const CreateLabBody = Type.Object({ templateId: Uuid }, { additionalProperties: false });
export type CreateLabBody = Static<typeof CreateLabBody>;

export const ExtendLabBody = Type.Object({ minutes: Type.Integer({ minimum: 1, maximum: 24 * 60 }) }, { additionalProperties: false });
export type ExtendLabBody = Static<typeof ExtendLabBody>;

export const LabMemberBody = Type.Object({ userId: Uuid }, { additionalProperties: false });
export type LabMemberBody = Static<typeof LabMemberBody>;

export const LabMemberParams = Type.Object({ id: Uuid, userId: Uuid }, { additionalProperties: false });
export type LabMemberParams = Static<typeof LabMemberParams>;

export const SnapshotBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9][a-z0-9-]*$' }) },
  { additionalProperties: false },
);
export type SnapshotBody = Static<typeof SnapshotBody>;

export const Snapshot = Type.Object({ name: Type.String(), createdAt: Timestamp, withMemory: Type.Boolean() });
export type Snapshot = Static<typeof Snapshot>;

export const VmSnapshotParams = Type.Object(
  { id: Uuid, name: Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9][a-z0-9-]*$' }) },
  { additionalProperties: false },
);
export type VmSnapshotParams = Static<typeof VmSnapshotParams>;

/** One event on the live stream (and in the replay of missed ones). */
export const LabEvent = Type.Object({
  id: Type.Integer({ description: 'Increasing; pass the last one seen as `since` to fetch what was missed.' }),
  at: Timestamp,
  type: Type.String({ description: 'lab.status, lab.progress, lab.expiring, vm.status, lab.deleted' }),
  labId: Uuid,
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type LabEvent = Static<typeof LabEvent>;

/** An event id as a client passes it back (`since`): a non-negative safe integer. */
export const EventId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const EventsQuery = Type.Object(
  { since: Type.Optional(EventId), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const EventTicket = Type.Object({ ticket: Type.String(), url: Type.String(), expiresIn: Type.Integer() });
export type EventTicket = Static<typeof EventTicket>;
