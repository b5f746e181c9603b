import Type, { type Static } from 'typebox';

export const HealthResponse = Type.Object({ status: Type.Literal('ok') });
export const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  database: Type.String(),
  /** Why the instance is not ready (the database does not answer; its notifications are being re-established). */
  reason: Type.Optional(Type.String()),
});
export type ReadyResponse = Static<typeof ReadyResponse>;
