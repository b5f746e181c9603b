import { and, asc, desc, gt, inArray } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { labEvents } from '../db/schema.js';

export type LabEventRow = typeof labEvents.$inferSelect;

/** Every query on the lab event log. */
export class EventsRepository {
  constructor(private readonly db: Db) {}

  async insert(event: { labId: string; type: string; data: Record<string, unknown> }): Promise<LabEventRow> {
    const [row] = await this.db.insert(labEvents).values(event).returning();
    return row!;
  }

  /** Events after `sinceId`, oldest first, optionally only for some labs. */
  async since(sinceId: number, limit: number, labIds?: string[]): Promise<LabEventRow[]> {
    const where = labIds
      ? and(gt(labEvents.id, sinceId), inArray(labEvents.labId, labIds.length ? labIds : ['00000000-0000-0000-0000-000000000000']))
      : gt(labEvents.id, sinceId);
    return this.db.select().from(labEvents).where(where).orderBy(asc(labEvents.id)).limit(limit);
  }

  async latestId(): Promise<number> {
    const [row] = await this.db.select({ id: labEvents.id }).from(labEvents).orderBy(desc(labEvents.id)).limit(1);
    return row?.id ?? 0;
  }

  async findById(id: number): Promise<LabEventRow | undefined> {
    const [row] = await this.db
      .select()
      .from(labEvents)
      .where(gt(labEvents.id, id - 1))
      .orderBy(asc(labEvents.id))
      .limit(1);
    return row?.id === id ? row : undefined;
  }
}
