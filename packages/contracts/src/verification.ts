import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';

export const VerificationStatus = Type.Union([
  Type.Literal('running'),
  Type.Literal('passed'),
  Type.Literal('failed'),
  Type.Literal('error'),
]);
export type VerificationStatus = Static<typeof VerificationStatus>;

/** One task's outcome in a verification run. */
export const VerificationTaskResult = Type.Object({
  taskId: Type.String(),
  title: Type.String(),
  passed: Type.Boolean(),
  /** What happened, for staff: the solution's exit, the answer's fate, the check's output excerpt. */
  detail: Type.String(),
});
export type VerificationTaskResult = Static<typeof VerificationTaskResult>;

/** Pre-class verification of a template (staff only: it names solutions' outcomes). */
export const TemplateVerification = Type.Object({
  id: Uuid,
  templateId: Uuid,
  templateVersion: Type.Integer(),
  status: VerificationStatus,
  requestedBy: Type.Union([Type.String(), Type.Null()]),
  /** The lab the verification ran in (deleted when it ends). */
  labId: Type.Union([Uuid, Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  tasks: Type.Array(VerificationTaskResult),
  /** Tasks that failed, by id (empty when everything passed). */
  failedTasks: Type.Array(Type.String()),
  createdAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
});
export type TemplateVerification = Static<typeof TemplateVerification>;
