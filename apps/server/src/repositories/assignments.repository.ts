import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { assignments, classes, classInstructors, classStudents, labs, labTemplates, users } from '../db/schema.js';

export type AssignmentRow = typeof assignments.$inferSelect;
export type AssignmentWithNames = AssignmentRow & { className: string; classArchived: boolean; title: string };
/** A student's live lab of an assignment. */
export interface AssignmentLabRow {
  id: string;
  userId: string;
  status: string;
  expiresAt: Date | null;
  createdAt: Date;
  deletedAt: Date | null;
}

/** The columns of an `AssignmentLabRow`. */
const labColumns = {
  id: labs.id,
  userId: labs.userId,
  status: labs.status,
  expiresAt: labs.expiresAt,
  createdAt: labs.createdAt,
  deletedAt: labs.deletedAt,
};

const withNames = {
  assignment: assignments,
  className: classes.name,
  classArchived: classes.archived,
  title: labTemplates.name,
};
type Joined = { assignment: AssignmentRow; className: string; classArchived: boolean; title: string };
const flatten = (r: Joined): AssignmentWithNames => ({
  ...r.assignment,
  className: r.className,
  classArchived: r.classArchived,
  title: r.title,
});

/** Every query on assignments and the labs started for them. */
export class AssignmentsRepository {
  constructor(private readonly db: Db) {}

  async create(values: typeof assignments.$inferInsert): Promise<AssignmentRow> {
    const [row] = await this.db.insert(assignments).values(values).returning();
    return row!;
  }

  async findById(id: string): Promise<AssignmentWithNames | undefined> {
    const [row] = await this.base().where(eq(assignments.id, id));
    return row ? flatten(row) : undefined;
  }

  async update(id: string, changes: Partial<Pick<AssignmentRow, 'opensAt' | 'closesAt' | 'labLifetimeMinutes' | 'scoreboard'>>) {
    const [row] = await this.db
      .update(assignments)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(assignments.id, id))
      .returning();
    return row;
  }

  async ofClass(classId: string): Promise<AssignmentWithNames[]> {
    return (await this.base().where(eq(assignments.classId, classId)).orderBy(asc(assignments.opensAt))).map(flatten);
  }

  /** Assignments of the active classes a student is enrolled in. */
  async ofStudent(userId: string): Promise<AssignmentWithNames[]> {
    const enrolled = this.db.select({ id: classStudents.classId }).from(classStudents).where(eq(classStudents.userId, userId));
    const rows = await this.base()
      .where(and(inArray(assignments.classId, enrolled), eq(classes.archived, false)))
      .orderBy(asc(assignments.closesAt));
    return rows.map(flatten);
  }

  /** Assignments of the active classes an instructor teaches (every active class's when `teacherId` is undefined). */
  async ofTeacher(teacherId: string | undefined): Promise<AssignmentWithNames[]> {
    const teaching = this.db
      .select({ id: classInstructors.classId })
      .from(classInstructors)
      .where(eq(classInstructors.userId, teacherId ?? ''));
    const rows = await this.base()
      .where(and(eq(classes.archived, false), teacherId ? inArray(assignments.classId, teaching) : undefined))
      .orderBy(asc(assignments.closesAt));
    return rows.map(flatten);
  }

  /** The live (not deleted) labs of an assignment, one per student at most. */
  async labsOf(assignmentId: string): Promise<AssignmentLabRow[]> {
    return this.db
      .select(labColumns)
      .from(labs)
      .where(and(eq(labs.assignmentId, assignmentId), ne(labs.status, 'deleted')));
  }

  /** Every lab ever started for an assignment (grades count deleted ones too), newest first per student. */
  async allLabsOf(assignmentId: string): Promise<AssignmentLabRow[]> {
    return this.db.select(labColumns).from(labs).where(eq(labs.assignmentId, assignmentId)).orderBy(asc(labs.createdAt));
  }

  /** A student's live lab of an assignment. */
  async labOf(assignmentId: string, userId: string): Promise<AssignmentLabRow | undefined> {
    const [row] = await this.db
      .select(labColumns)
      .from(labs)
      .where(and(eq(labs.assignmentId, assignmentId), eq(labs.userId, userId), ne(labs.status, 'deleted')));
    return row;
  }

  /** Brings the expiry of the assignment's live labs forward to `closesAt` (the expiry job then ends them). */
  async capLabExpiry(assignmentId: string, closesAt: Date): Promise<void> {
    await this.db
      .update(labs)
      .set({ expiresAt: closesAt, updatedAt: new Date() })
      .where(
        and(
          eq(labs.assignmentId, assignmentId),
          ne(labs.status, 'deleted'),
          sql`(${labs.expiresAt} is null or ${labs.expiresAt} > ${closesAt})`,
        ),
      );
  }

  /** The students of the assignment's class, with what a grade sheet shows. */
  async studentsOf(classId: string) {
    return this.db
      .select({ id: users.id, username: users.username, email: users.email, name: users.displayName })
      .from(classStudents)
      .innerJoin(users, eq(users.id, classStudents.userId))
      .where(eq(classStudents.classId, classId))
      .orderBy(asc(users.username));
  }

  private base() {
    return this.db
      .select(withNames)
      .from(assignments)
      .innerJoin(classes, eq(classes.id, assignments.classId))
      .innerJoin(labTemplates, eq(labTemplates.id, assignments.templateId));
  }
}
