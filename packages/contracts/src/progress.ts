import Type, { type Static } from 'typebox';
import { LabStatus } from './labs.js';
import { Timestamp, Uuid } from './common.js';

/** One task of one student's lab, on the live dashboard. */
export const ProgressTask = Type.Object({
  id: Type.String(),
  state: Type.Union([Type.Literal('locked'), Type.Literal('open'), Type.Literal('solved')]),
  awarded: Type.Integer(),
  attempts: Type.Integer(),
  hintsUsed: Type.Integer(),
});

/** One row of the live dashboard: a student, their lab and how far they got. */
export const ProgressRow = Type.Object({
  userId: Uuid,
  username: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  lab: Type.Union([
    Type.Object({
      id: Uuid,
      status: LabStatus,
      queuePosition: Type.Union([Type.Integer(), Type.Null()]),
      expiresAt: Type.Union([Timestamp, Type.Null()]),
      secondsLeft: Type.Union([Type.Integer(), Type.Null()]),
      /** A student-visible VM whose console staff open (read-only). */
      consoleVmId: Type.Union([Uuid, Type.Null()]),
    }),
    Type.Null(),
  ]),
  tasks: Type.Array(ProgressTask),
  score: Type.Integer(),
  maxScore: Type.Integer(),
  attempts: Type.Integer({ description: 'Answers and checks, all tasks.' }),
  hintsUsed: Type.Integer(),
  lastActivity: Type.Union([Timestamp, Type.Null()]),
});
export type ProgressRow = Static<typeof ProgressRow>;

export const AssignmentProgress = Type.Object({
  assignmentId: Uuid,
  taskIds: Type.Array(Type.String()),
  rows: Type.Array(ProgressRow),
});
export type AssignmentProgress = Static<typeof AssignmentProgress>;
