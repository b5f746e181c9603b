import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.js';

export const HelpStatus = Type.Union([Type.Literal('open'), Type.Literal('taken'), Type.Literal('resolved'), Type.Literal('cancelled')]);
export type HelpStatus = Static<typeof HelpStatus>;

/** A student's "Ask for help": waits in the help queue until staff take it and resolve it. */
export const HelpRequest = Type.Object({
  id: Uuid,
  labId: Uuid,
  labName: Type.String(),
  username: Type.String({ description: 'Who asked.' }),
  message: Type.String(),
  status: HelpStatus,
  /** Among open requests, oldest first (1 = next); null once taken. */
  position: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  takenBy: Type.Union([Type.String(), Type.Null()]),
  resolvedBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  takenAt: Type.Union([Timestamp, Type.Null()]),
  resolvedAt: Type.Union([Timestamp, Type.Null()]),
});
export type HelpRequest = Static<typeof HelpRequest>;

export const HelpRequestList = Type.Object({ items: Type.Array(HelpRequest) });
export type HelpRequestList = Static<typeof HelpRequestList>;

export const AskHelpBody = Type.Object(
  { message: Type.String({ minLength: 1, maxLength: 1000, description: 'What the student is stuck on.' }) },
  { additionalProperties: false },
);
export type AskHelpBody = Static<typeof AskHelpBody>;

export const HelpQueueQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Union([Type.Literal('waiting'), Type.Literal('all')], { description: 'waiting (open and taken, default) or all.' }),
    ),
  },
  { additionalProperties: false },
);
export type HelpQueueQuery = Static<typeof HelpQueueQuery>;
