import { and, asc, count, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { classes, classInstructors, classStudents, users } from '../db/schema.js';

export type ClassRow = typeof classes.$inferSelect;
export type ClassListRow = ClassRow & { instructors: string[]; studentCount: number };
export interface ClassPersonRow {
  id: string;
  username: string;
  email: string | null;
  displayName: string | null;
}
/** An account an import creates (the hash is made before the transaction). */
export interface NewStudent {
  username: string;
  email: string | null;
  displayName: string | null;
  passwordHash: string;
}

const person = { id: users.id, username: users.username, email: users.email, displayName: users.displayName };

/** Every query on classes, their instructors and their students. */
export class ClassesRepository {
  constructor(private readonly db: Db) {}

  /** Creates a class taught by its creator, in one transaction. */
  async create(values: { name: string; description: string; createdBy: string }): Promise<ClassRow> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(classes).values(values).returning();
      await tx.insert(classInstructors).values({ classId: row!.id, userId: values.createdBy });
      return row!;
    });
  }

  async findById(id: string): Promise<ClassRow | undefined> {
    const [row] = await this.db.select().from(classes).where(eq(classes.id, id));
    return row;
  }

  /** Classes, optionally only those a user teaches or is enrolled in, with their instructors' usernames. */
  async list(query: { teacherId?: string; studentId?: string; includeArchived?: boolean }): Promise<ClassListRow[]> {
    const where: SQL[] = [];
    if (!query.includeArchived) where.push(eq(classes.archived, false));
    if (query.teacherId) {
      const teaching = this.db
        .select({ id: classInstructors.classId })
        .from(classInstructors)
        .where(eq(classInstructors.userId, query.teacherId));
      where.push(inArray(classes.id, teaching));
    }
    if (query.studentId) {
      const enrolled = this.db.select({ id: classStudents.classId }).from(classStudents).where(eq(classStudents.userId, query.studentId));
      where.push(inArray(classes.id, enrolled));
    }
    const rows = await this.db
      .select()
      .from(classes)
      .where(where.length ? and(...where) : undefined)
      .orderBy(asc(classes.name), asc(classes.createdAt));
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id);
    const teachers = await this.db
      .select({ classId: classInstructors.classId, username: users.username })
      .from(classInstructors)
      .innerJoin(users, eq(users.id, classInstructors.userId))
      .where(inArray(classInstructors.classId, ids))
      .orderBy(asc(users.username));
    const counts = await this.db
      .select({ classId: classStudents.classId, n: count() })
      .from(classStudents)
      .where(inArray(classStudents.classId, ids))
      .groupBy(classStudents.classId);
    return rows.map((row) => ({
      ...row,
      instructors: teachers.filter((t) => t.classId === row.id).map((t) => t.username),
      studentCount: Number(counts.find((c) => c.classId === row.id)?.n ?? 0),
    }));
  }

  async update(id: string, changes: Partial<Pick<ClassRow, 'name' | 'description' | 'archived'>>): Promise<ClassRow | undefined> {
    const [row] = await this.db
      .update(classes)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(classes.id, id))
      .returning();
    return row;
  }

  async instructorsOf(classId: string): Promise<ClassPersonRow[]> {
    return this.db
      .select(person)
      .from(classInstructors)
      .innerJoin(users, eq(users.id, classInstructors.userId))
      .where(eq(classInstructors.classId, classId))
      .orderBy(asc(users.username));
  }

  async studentsOf(classId: string): Promise<ClassPersonRow[]> {
    return this.db
      .select(person)
      .from(classStudents)
      .innerJoin(users, eq(users.id, classStudents.userId))
      .where(eq(classStudents.classId, classId))
      .orderBy(asc(users.username));
  }

  async isInstructor(classId: string, userId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ one: sql`1` })
      .from(classInstructors)
      .where(and(eq(classInstructors.classId, classId), eq(classInstructors.userId, userId)));
    return row !== undefined;
  }

  async isStudent(classId: string, userId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ one: sql`1` })
      .from(classStudents)
      .where(and(eq(classStudents.classId, classId), eq(classStudents.userId, userId)));
    return row !== undefined;
  }

  /** Adds an instructor; false when they already taught the class. */
  async addInstructor(classId: string, userId: string): Promise<boolean> {
    const rows = await this.db.insert(classInstructors).values({ classId, userId }).onConflictDoNothing().returning();
    return rows.length > 0;
  }

  /** Removes an instructor unless they are the last one (a class always has a teacher); 'last' or 'absent' otherwise. */
  async removeInstructor(classId: string, userId: string): Promise<'removed' | 'last' | 'absent'> {
    return this.db.transaction(async (tx) => {
      // Lock the class row so that two concurrent removals cannot leave it without instructors.
      await tx.select({ id: classes.id }).from(classes).where(eq(classes.id, classId)).for('update');
      const teachers = await tx
        .select({ userId: classInstructors.userId })
        .from(classInstructors)
        .where(eq(classInstructors.classId, classId));
      if (!teachers.some((t) => t.userId === userId)) return 'absent';
      if (teachers.length <= 1) return 'last';
      await tx.delete(classInstructors).where(and(eq(classInstructors.classId, classId), eq(classInstructors.userId, userId)));
      return 'removed';
    });
  }

  /**
   * Creates the new accounts and enrols them with the existing ones, all in one transaction: a
   * failure (e.g. a username taken meanwhile) leaves nothing behind. Returns the ids newly enrolled.
   */
  async enrol(
    classId: string,
    created: NewStudent[],
    existingIds: string[],
  ): Promise<{ createdIds: Map<string, string>; newlyEnrolled: Set<string> }> {
    return this.db.transaction(async (tx) => {
      const createdIds = new Map<string, string>();
      if (created.length) {
        const rows = await tx
          .insert(users)
          .values(created.map((c) => ({ ...c, role: 'student' })))
          .returning({ id: users.id, username: users.username });
        for (const row of rows) createdIds.set(row.username.toLowerCase(), row.id);
      }
      const ids = [...existingIds, ...createdIds.values()];
      const inserted = ids.length
        ? await tx
            .insert(classStudents)
            .values(ids.map((userId) => ({ classId, userId })))
            .onConflictDoNothing()
            .returning({ userId: classStudents.userId })
        : [];
      return { createdIds, newlyEnrolled: new Set(inserted.map((r) => r.userId)) };
    });
  }

  async removeStudent(classId: string, userId: string): Promise<boolean> {
    const rows = await this.db
      .delete(classStudents)
      .where(and(eq(classStudents.classId, classId), eq(classStudents.userId, userId)))
      .returning({ userId: classStudents.userId });
    return rows.length > 0;
  }

  /** Ids of the instructors teaching a student in any active class (who may watch that student's labs). */
  async teacherIdsOfStudent(studentId: string): Promise<string[]> {
    const rows = await this.db
      .selectDistinct({ userId: classInstructors.userId })
      .from(classStudents)
      .innerJoin(classes, eq(classes.id, classStudents.classId))
      .innerJoin(classInstructors, eq(classInstructors.classId, classStudents.classId))
      .where(and(eq(classStudents.userId, studentId), eq(classes.archived, false)));
    return rows.map((r) => r.userId);
  }

  /** Ids of the students an instructor teaches in active classes. */
  async studentIdsTaughtBy(instructorId: string): Promise<string[]> {
    const rows = await this.db
      .selectDistinct({ userId: classStudents.userId })
      .from(classInstructors)
      .innerJoin(classes, eq(classes.id, classInstructors.classId))
      .innerJoin(classStudents, eq(classStudents.classId, classInstructors.classId))
      .where(and(eq(classInstructors.userId, instructorId), eq(classes.archived, false)));
    return rows.map((r) => r.userId);
  }
}
