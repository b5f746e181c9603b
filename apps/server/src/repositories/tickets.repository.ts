import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { accessTickets } from '../db/schema.js';

export type TicketRow = typeof accessTickets.$inferSelect;

/** Every query on access tickets. */
export class TicketsRepository {
  constructor(private readonly db: Db) {}

  async insert(values: { tokenHash: string; userId: string; kind: string; targetId: string | null; expiresAt: Date }): Promise<void> {
    await this.db.insert(accessTickets).values(values);
  }

  /** Spends a ticket: returns it only if it existed, was unused and unexpired (one winner). */
  async consume(tokenHash: string, now: Date): Promise<TicketRow | undefined> {
    const [row] = await this.db
      .update(accessTickets)
      .set({ usedAt: now })
      .where(and(eq(accessTickets.tokenHash, tokenHash), isNull(accessTickets.usedAt), gt(accessTickets.expiresAt, now)))
      .returning();
    return row;
  }

  /** Removes every ticket of a user (their sessions were ended). */
  async deleteForUser(userId: string): Promise<void> {
    await this.db.delete(accessTickets).where(eq(accessTickets.userId, userId));
  }

  async deleteExpired(before: Date): Promise<void> {
    await this.db.delete(accessTickets).where(lt(accessTickets.expiresAt, before));
  }
}
