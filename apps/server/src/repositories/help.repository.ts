import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../db/database.js';
import { helpRequests, labs, users } from '../db/schema.js';

export type HelpRow = typeof helpRequests.$inferSelect;
export type HelpView = HelpRow & { labName: string; username: string; takenByName: string | null; resolvedByName: string | null };

const WAITING = ['open', 'taken'];

/** Every query on the help queue. */
export class HelpRepository {
  constructor(private readonly db: Db) {}

  /** Inserts an open request; undefined when the lab already has one waiting. */
  async create(values: { labId: string; userId: string; message: string }): Promise<HelpRow | undefined> {
    const [row] = await this.db.insert(helpRequests).values(values).onConflictDoNothing().returning();
    return row;
  }

  async findById(id: string): Promise<HelpView | undefined> {
    return (await this.select(eq(helpRequests.id, id)))[0];
  }

  /** Waiting requests (open and taken) or all, oldest first; optionally of one lab. */
  async list(options: { waitingOnly: boolean; labId?: string; limit?: number }): Promise<HelpView[]> {
    const conditions = [
      ...(options.waitingOnly ? [inArray(helpRequests.status, WAITING)] : []),
      ...(options.labId ? [eq(helpRequests.labId, options.labId)] : []),
    ];
    return this.select(conditions.length ? and(...conditions) : undefined, options.waitingOnly ? 'asc' : 'desc', options.limit ?? 200);
  }

  /** Moves a request from one of `from` to `to` (with who and when); undefined when it was not in `from`. */
  async transition(
    id: string,
    from: string[],
    changes: Partial<typeof helpRequests.$inferInsert> & { status: string },
  ): Promise<HelpRow | undefined> {
    const [row] = await this.db
      .update(helpRequests)
      .set(changes)
      .where(and(eq(helpRequests.id, id), inArray(helpRequests.status, from)))
      .returning();
    return row;
  }

  /** Open requests in order: position = index + 1. */
  async openIds(): Promise<string[]> {
    const rows = await this.db
      .select({ id: helpRequests.id })
      .from(helpRequests)
      .where(eq(helpRequests.status, 'open'))
      .orderBy(asc(helpRequests.createdAt), asc(helpRequests.id));
    return rows.map((r) => r.id);
  }

  private async select(where: ReturnType<typeof and>, order: 'asc' | 'desc' = 'asc', limit = 200): Promise<HelpView[]> {
    const taker = alias(users, 'taker');
    const resolver = alias(users, 'resolver');
    const rows = await this.db
      .select({
        request: helpRequests,
        labName: labs.name,
        username: users.username,
        takenByName: taker.username,
        resolvedByName: resolver.username,
      })
      .from(helpRequests)
      .innerJoin(labs, eq(labs.id, helpRequests.labId))
      .innerJoin(users, eq(users.id, helpRequests.userId))
      .leftJoin(taker, eq(taker.id, helpRequests.takenBy))
      .leftJoin(resolver, eq(resolver.id, helpRequests.resolvedBy))
      .where(where ?? sql`true`)
      .orderBy(order === 'asc' ? asc(helpRequests.createdAt) : desc(helpRequests.createdAt))
      .limit(limit);
    return rows.map((r) => ({
      ...r.request,
      labName: r.labName,
      username: r.username,
      takenByName: r.takenByName,
      resolvedByName: r.resolvedByName,
    }));
  }
}
