import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';
import { LabStatus } from './labs.js';

const LabLifetimeMinutes = Type.Integer({
  minimum: 5,
  maximum: 7 * 24 * 60,
  description: 'How long each student’s lab lives (never past closesAt).',
});

export const CreateAssignmentBody = Type.Object(
  {
    templateId: Uuid,
    opensAt: Timestamp,
    closesAt: Timestamp,
    labLifetimeMinutes: LabLifetimeMinutes,
    scoreboard: Type.Optional(Type.Boolean({ description: 'Students of the class may see everyone’s scores (default false).' })),
  },
  { additionalProperties: false },
);
export type CreateAssignmentBody = Static<typeof CreateAssignmentBody>;

export const UpdateAssignmentBody = Type.Object(
  {
    opensAt: Type.Optional(Timestamp),
    closesAt: Type.Optional(Timestamp),
    labLifetimeMinutes: Type.Optional(LabLifetimeMinutes),
    scoreboard: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateAssignmentBody = Static<typeof UpdateAssignmentBody>;

export const AssignmentState = Type.Union([Type.Literal('upcoming'), Type.Literal('open'), Type.Literal('closed')]);
export type AssignmentState = Static<typeof AssignmentState>;

/** An assignment; `lab` is the signed-in student’s own lab for it (null for staff and before they start). */
export const Assignment = Type.Object({
  id: Uuid,
  classId: Uuid,
  className: Type.String(),
  templateId: Uuid,
  title: Type.String({ description: 'The template’s title.' }),
  opensAt: Timestamp,
  closesAt: Timestamp,
  labLifetimeMinutes: Type.Integer(),
  scoreboard: Type.Boolean(),
  state: AssignmentState,
  createdAt: Timestamp,
  lab: Type.Union([Type.Object({ id: Uuid, status: LabStatus, expiresAt: Type.Union([Timestamp, Type.Null()]) }), Type.Null()]),
});
export type Assignment = Static<typeof Assignment>;

export const AssignmentList = Type.Object({ items: Type.Array(Assignment) });
export type AssignmentList = Static<typeof AssignmentList>;

/** What a provisioning request did: labs created as jobs, students skipped with the reason. */
export const ProvisionResult = Type.Object({
  created: Type.Array(Type.Object({ username: Type.String(), labId: Uuid })),
  skipped: Type.Array(Type.Object({ username: Type.String(), reason: Type.String() })),
});
export type ProvisionResult = Static<typeof ProvisionResult>;

export const Scoreboard = Type.Object({
  maxScore: Type.Integer(),
  items: Type.Array(Type.Object({ rank: Type.Integer(), username: Type.String(), score: Type.Integer(), solved: Type.Integer() })),
});
export type Scoreboard = Static<typeof Scoreboard>;
