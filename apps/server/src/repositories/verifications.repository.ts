import { desc, eq } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { templateVerifications, users } from '../db/schema.js';

export type VerificationRow = typeof templateVerifications.$inferSelect;
export type VerificationWithRequester = VerificationRow & { requesterUsername: string | null };

/** Every query on template verification runs. */
export class VerificationsRepository {
  constructor(private readonly db: Db) {}

  async create(values: typeof templateVerifications.$inferInsert): Promise<VerificationRow> {
    const [row] = await this.db.insert(templateVerifications).values(values).returning();
    return row!;
  }

  async update(id: string, changes: Partial<typeof templateVerifications.$inferInsert>): Promise<void> {
    await this.db.update(templateVerifications).set(changes).where(eq(templateVerifications.id, id));
  }

  async findById(id: string): Promise<VerificationRow | undefined> {
    const [row] = await this.db.select().from(templateVerifications).where(eq(templateVerifications.id, id));
    return row;
  }

  /** The template's latest verification, with who asked for it. */
  async latestFor(templateId: string): Promise<VerificationWithRequester | undefined> {
    const [row] = await this.db
      .select({ verification: templateVerifications, requesterUsername: users.username })
      .from(templateVerifications)
      .leftJoin(users, eq(users.id, templateVerifications.requestedBy))
      .where(eq(templateVerifications.templateId, templateId))
      .orderBy(desc(templateVerifications.createdAt))
      .limit(1);
    return row ? { ...row.verification, requesterUsername: row.requesterUsername } : undefined;
  }
}
