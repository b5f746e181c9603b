import { and, desc, eq, gte, inArray } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { announcements, classes, classStudents, users } from '../db/schema.js';

export type AnnouncementView = typeof announcements.$inferSelect & { className: string; by: string | null };

/** Every query on class announcements. */
export class AnnouncementsRepository {
  constructor(private readonly db: Db) {}

  async create(values: { classId: string; authorId: string; message: string }) {
    const [row] = await this.db.insert(announcements).values(values).returning();
    return row!;
  }

  /** Announcements since `after` of the classes a student is enrolled in (or of the given classes), newest first. */
  async recent(options: { studentId?: string; classIds?: string[]; after: Date; limit: number }): Promise<AnnouncementView[]> {
    const scope = options.studentId
      ? inArray(
          announcements.classId,
          this.db.select({ id: classStudents.classId }).from(classStudents).where(eq(classStudents.userId, options.studentId)),
        )
      : inArray(announcements.classId, options.classIds ?? []);
    const rows = await this.db
      .select({ announcement: announcements, className: classes.name, by: users.username })
      .from(announcements)
      .innerJoin(classes, eq(classes.id, announcements.classId))
      .leftJoin(users, eq(users.id, announcements.authorId))
      .where(and(scope, gte(announcements.createdAt, options.after)))
      .orderBy(desc(announcements.createdAt))
      .limit(options.limit);
    return rows.map((r) => ({ ...r.announcement, className: r.className, by: r.by }));
  }
}
