import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { refreshTokens } from '../db/schema.js';

export type RefreshTokenRow = typeof refreshTokens.$inferSelect;

/** Every query on `refresh_tokens`. */
export class RefreshTokensRepository {
  constructor(private readonly db: Db) {}

  async insert(values: { userId: string; tokenHash: string; familyId: string; expiresAt: Date }): Promise<void> {
    await this.db.insert(refreshTokens).values(values);
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash));
    return row;
  }

  /** Marks a token used; true only for the one caller that won the race. */
  async markUsed(id: string): Promise<boolean> {
    const rows = await this.db
      .update(refreshTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.id, id), isNull(refreshTokens.usedAt), isNull(refreshTokens.revokedAt)))
      .returning({ id: refreshTokens.id });
    return rows.length === 1;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
  }

  async revokeAllForUser(userId: string): Promise<void> {
    await this.db
      .update(refreshTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)));
  }

  async deleteExpired(before: Date): Promise<void> {
    await this.db.delete(refreshTokens).where(or(lt(refreshTokens.expiresAt, before)));
  }
}
