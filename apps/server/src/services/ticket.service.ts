import { AppError } from '../errors.js';
import type { Actor } from '../policy/policy.js';
import type { TicketsRepository } from '../repositories/tickets.repository.js';
import type { SessionsService } from './sessions.service.js';
import { hashRefreshToken, newRefreshToken } from './token.service.js';

const TICKET_TTL_SECONDS = 30;

/** Who redeemed a ticket, and under which session epoch (the socket closes when it changes). */
export type TicketHolder = Actor & { epoch: number };

/**
 * Short-lived, single-use tickets for WebSockets, bound to a user, a kind and a target, so that
 * no long-lived token ever travels in a URL.
 */
export class TicketService {
  constructor(
    private readonly tickets: TicketsRepository,
    private readonly sessions: SessionsService,
  ) {}

  /** Issues a ticket for the actor. */
  async issue(actor: Actor, kind: string, targetId: string | null): Promise<{ ticket: string; expiresIn: number }> {
    const { token, hash } = newRefreshToken();
    await this.tickets.insert({
      tokenHash: hash,
      userId: actor.id,
      kind,
      targetId,
      expiresAt: new Date(Date.now() + TICKET_TTL_SECONDS * 1000),
    });
    return { ticket: token, expiresIn: TICKET_TTL_SECONDS };
  }

  /** Spends a ticket of the given kind (and target); 401 when reused, expired, unknown or for something else. */
  async redeem(ticket: string | undefined, kind: string, targetId: string | null): Promise<TicketHolder> {
    if (!ticket) throw new AppError(401, 'invalid_ticket', 'A ticket is required');
    const row = await this.tickets.consume(hashRefreshToken(ticket), new Date());
    if (!row) throw new AppError(401, 'invalid_ticket', 'The ticket is unknown, expired or already used');
    if (row.kind !== kind || row.targetId !== targetId) throw new AppError(401, 'invalid_ticket', 'The ticket is for something else');
    const user = await this.sessions.user(row.userId);
    if (!user || user.disabled) throw new AppError(401, 'invalid_ticket', 'The account is disabled');
    return { id: user.id, username: user.username, role: user.role as Actor['role'], epoch: user.sessionEpoch };
  }
}
