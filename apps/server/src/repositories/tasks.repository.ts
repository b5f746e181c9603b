import { and, count, desc, eq, gte, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { labSecrets, taskAttempts, taskReveals, users } from '../db/schema.js';

export type TaskAttemptRow = typeof taskAttempts.$inferSelect;
export type TaskRevealRow = typeof taskReveals.$inferSelect;

/** Every query on per-lab secret digests, task attempts (answers, checks) and reveals (hints, solutions). */
export class TasksRepository {
  constructor(private readonly db: Db) {}

  /** Records a lab's secret digests (idempotent: a retried provisioning writes the same). */
  async saveSecretDigests(labId: string, digests: { name: string; digest: string }[]): Promise<void> {
    if (!digests.length) return;
    await this.db
      .insert(labSecrets)
      .values(digests.map((d) => ({ labId, ...d })))
      .onConflictDoNothing();
  }

  /** Another lab whose secret has this digest, if any. */
  async labWithSecretDigest(digest: string, exceptLabId: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ labId: labSecrets.labId })
      .from(labSecrets)
      .where(and(eq(labSecrets.digest, digest), ne(labSecrets.labId, exceptLabId)))
      .limit(1);
    return row?.labId;
  }

  async addAttempt(attempt: typeof taskAttempts.$inferInsert): Promise<TaskAttemptRow> {
    const [row] = await this.db.insert(taskAttempts).values(attempt).returning();
    return row!;
  }

  /** How many attempts of a kind a user made since a moment, in every lab (rate limits across API instances). */
  async countAttemptsSince(userId: string, kind: 'answer' | 'check', since: Date): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(taskAttempts)
      .where(and(eq(taskAttempts.userId, userId), eq(taskAttempts.kind, kind), gte(taskAttempts.createdAt, since)));
    return Number(row?.n ?? 0);
  }

  /** Records a reveal; false when it was already revealed. */
  async addReveal(reveal: typeof taskReveals.$inferInsert): Promise<boolean> {
    const rows = await this.db.insert(taskReveals).values(reveal).onConflictDoNothing().returning();
    return rows.length > 0;
  }

  async attemptsOf(labId: string): Promise<TaskAttemptRow[]> {
    return this.db.select().from(taskAttempts).where(eq(taskAttempts.labId, labId)).orderBy(taskAttempts.createdAt);
  }

  async revealsOf(labId: string): Promise<TaskRevealRow[]> {
    return this.db.select().from(taskReveals).where(eq(taskReveals.labId, labId));
  }

  /** Everything that happened on a lab's tasks, newest first, with who did it (staff view). */
  async activityOf(labId: string, limit = 500) {
    const attempts = await this.db
      .select({
        id: taskAttempts.id,
        at: taskAttempts.createdAt,
        taskId: taskAttempts.taskId,
        kind: taskAttempts.kind,
        username: sql<string>`coalesce(${users.username}, '')`,
        answer: taskAttempts.answer,
        correct: taskAttempts.correct,
        sharedFromLabId: taskAttempts.sharedFromLabId,
        output: taskAttempts.output,
      })
      .from(taskAttempts)
      .leftJoin(users, eq(users.id, taskAttempts.userId))
      .where(eq(taskAttempts.labId, labId))
      .orderBy(desc(taskAttempts.createdAt))
      .limit(limit);
    const reveals = await this.db
      .select({
        at: taskReveals.createdAt,
        taskId: taskReveals.taskId,
        kind: taskReveals.kind,
        hintId: taskReveals.hintId,
        username: sql<string>`coalesce(${users.username}, '')`,
      })
      .from(taskReveals)
      .leftJoin(users, eq(users.id, taskReveals.userId))
      .where(eq(taskReveals.labId, labId));
    return { attempts, reveals };
  }
}
