import Type, { type Static } from 'typebox';
import { Timestamp } from './common.js';

export const QUOTA_SCOPES = ['role', 'user', 'class'] as const;
export const QuotaScope = Type.Union([Type.Literal('role'), Type.Literal('user'), Type.Literal('class')], {
  description: '`role`: everyone of a role; `user`: one user (wins over their role); `class`: each student, for the labs of that class.',
});
export type QuotaScope = (typeof QUOTA_SCOPES)[number];

/** A limit: a non-negative integer, or null for no limit. */
const Limit = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000 }), Type.Null()], { description: `${description}; null: no limit` });

export const Quota = Type.Object({
  scope: QuotaScope,
  subject: Type.String({ description: 'Role name, user id or class id.' }),
  /** A readable name of the subject: the role, the username, the class name. */
  subjectName: Type.String(),
  maxLabs: Limit('Concurrent labs'),
  maxVcpus: Limit('vCPUs of all labs at once'),
  maxMemoryMiB: Limit('Memory (MiB) of all labs at once'),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Quota = Static<typeof Quota>;

export const QuotaList = Type.Object({ items: Type.Array(Quota) });
export type QuotaList = Static<typeof QuotaList>;

export const QuotaParams = Type.Object(
  {
    scope: QuotaScope,
    subject: Type.String({ minLength: 1, maxLength: 64, description: 'Role name, user id (or username) or class id.' }),
  },
  { additionalProperties: false },
);
export type QuotaParams = Static<typeof QuotaParams>;

export const SetQuotaBody = Type.Object(
  {
    maxLabs: Type.Optional(Limit('Concurrent labs')),
    maxVcpus: Type.Optional(Limit('vCPUs of all labs at once')),
    maxMemoryMiB: Type.Optional(Limit('Memory (MiB) of all labs at once')),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type SetQuotaBody = Static<typeof SetQuotaBody>;

/** What a quota refusal (429 `quota_exceeded`) says about the quota, beside its message. */
export const QuotaRefusal = Type.Object({
  scope: Type.Union([QuotaScope, Type.Literal('default')]),
  subject: Type.String(),
  field: Type.Union([Type.Literal('maxLabs'), Type.Literal('maxVcpus'), Type.Literal('maxMemoryMiB')]),
  limit: Type.Integer(),
  used: Type.Integer(),
  requested: Type.Integer(),
});
export type QuotaRefusal = Static<typeof QuotaRefusal>;

const Use = Type.Object({ labs: Type.Integer(), vcpus: Type.Integer(), memoryMiB: Type.Integer() });

/** One effective limit and where it comes from. */
const Effective = Type.Object({
  limit: Type.Union([Type.Integer(), Type.Null()]),
  source: Type.Union([Type.Literal('user'), Type.Literal('role'), Type.Literal('default'), Type.Literal('none')]),
});

/** The signed-in user's effective limits and current use (their own only). */
export const MyQuota = Type.Object({
  maxLabs: Effective,
  maxVcpus: Effective,
  maxMemoryMiB: Effective,
  used: Use,
  classes: Type.Array(
    Type.Object({
      classId: Type.String(),
      className: Type.String(),
      maxLabs: Type.Union([Type.Integer(), Type.Null()]),
      maxVcpus: Type.Union([Type.Integer(), Type.Null()]),
      maxMemoryMiB: Type.Union([Type.Integer(), Type.Null()]),
      used: Use,
    }),
  ),
});
export type MyQuota = Static<typeof MyQuota>;
