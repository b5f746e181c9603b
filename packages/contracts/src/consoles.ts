import Type, { type Static } from 'typebox';

export const ConsoleKind = Type.Union([Type.Literal('serial'), Type.Literal('vnc')]);
export type ConsoleKind = Static<typeof ConsoleKind>;

export const ConsoleTicketBody = Type.Object({ kind: ConsoleKind }, { additionalProperties: false });
export type ConsoleTicketBody = Static<typeof ConsoleTicketBody>;

export const ConsoleTicket = Type.Object({
  ticket: Type.String(),
  /** Open as a WebSocket (binary frames carry the serial bytes or RFB). */
  url: Type.String(),
  expiresIn: Type.Integer(),
  /** Staff watching another user's lab get a read-only session. */
  readOnly: Type.Boolean(),
});
export type ConsoleTicket = Static<typeof ConsoleTicket>;
