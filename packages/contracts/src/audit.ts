import Type, { type Static } from 'typebox';
import { Page, PageQuery, Timestamp, Uuid } from './common.js';

export const AuditOutcome = Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]);
export type AuditOutcome = Static<typeof AuditOutcome>;

export const AuditEvent = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actorId: Type.Union([Uuid, Type.Null()]),
  actorUsername: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  outcome: AuditOutcome,
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditQuery = Type.Object(
  {
    ...PageQuery,
    action: Type.Optional(Type.String({ maxLength: 100, description: 'Exact action, or a prefix ending in `*` (e.g. `auth.*`).' })),
    actorId: Type.Optional(Uuid),
    actor: Type.Optional(Type.String({ maxLength: 64, description: 'Actor username.' })),
    targetId: Type.Optional(Type.String({ maxLength: 100 })),
    outcome: Type.Optional(AuditOutcome),
    since: Type.Optional(Timestamp),
    until: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditList = Page(AuditEvent);
export type AuditList = Static<typeof AuditList>;
