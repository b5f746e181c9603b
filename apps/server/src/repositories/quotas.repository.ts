import { and, asc, countDistinct, eq, inArray, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { assignments, classes, classStudents, labs, quotas, users, vms } from '../db/schema.js';

export type QuotaRow = typeof quotas.$inferSelect;
export type QuotaScope = 'role' | 'user' | 'class';
export type QuotaLimits = Pick<QuotaRow, 'maxLabs' | 'maxVcpus' | 'maxMemoryMiB'>;
/** What a user's labs hold: labs, their VMs' vCPUs and memory. */
export interface QuotaUse {
  labs: number;
  vcpus: number;
  memoryMiB: number;
}

// Labs in these states hold nothing (any more) and do not count; queued labs count: they will.
const NOT_HOLDING = ['deleted', 'deleting', 'error'];
// A stopped lab still counts as a lab (its disks and its host's promise stay), but its VMs run on
// no CPU and hold no memory: starting it again is checked against the vCPU and memory limits.
const runs = (column: typeof vms.cpus | typeof vms.memoryMiB) =>
  sql<number>`coalesce(sum(case when ${labs.status} = 'stopped' then 0 else ${column} end), 0)::int`;

/** Every query on quotas and on the use they limit. */
export class QuotasRepository {
  constructor(private readonly db: Db) {}

  /** Every quota with a readable name of its subject (username, class name, role), by scope and name. */
  async list(): Promise<(QuotaRow & { subjectName: string })[]> {
    const rows = await this.db
      .select({ quota: quotas, username: users.username, className: classes.name })
      .from(quotas)
      .leftJoin(users, and(eq(quotas.scope, 'user'), eq(sql`${users.id}::text`, quotas.subject)))
      .leftJoin(classes, and(eq(quotas.scope, 'class'), eq(sql`${classes.id}::text`, quotas.subject)))
      .orderBy(asc(quotas.scope), asc(quotas.subject));
    return rows.map((r) => ({ ...r.quota, subjectName: r.username ?? r.className ?? r.quota.subject }));
  }

  async find(scope: QuotaScope, subject: string): Promise<QuotaRow | undefined> {
    const [row] = await this.db
      .select()
      .from(quotas)
      .where(and(eq(quotas.scope, scope), eq(quotas.subject, subject)));
    return row;
  }

  /** Creates the quota or changes the limits given (a limit left out keeps its value; null: no limit). */
  async upsert(scope: QuotaScope, subject: string, limits: Partial<QuotaLimits>): Promise<QuotaRow> {
    const [row] = await this.db
      .insert(quotas)
      .values({ scope, subject, ...limits })
      .onConflictDoUpdate({ target: [quotas.scope, quotas.subject], set: { ...limits, updatedAt: new Date() } })
      .returning();
    return row!;
  }

  async remove(scope: QuotaScope, subject: string): Promise<boolean> {
    const rows = await this.db
      .delete(quotas)
      .where(and(eq(quotas.scope, scope), eq(quotas.subject, subject)))
      .returning({ id: quotas.id });
    return rows.length > 0;
  }

  /**
   * Holds the user's quota lock until the transaction `tx` ends, so that two labs created at
   * once for one user are checked one after the other (on a server; PGlite has one connection).
   */
  async lockUser(tx: Db, userId: string): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('ctp.quota'), hashtext(${userId}))`);
  }

  /** The user's own quota, their role's, and the class's (when given). */
  async applicable(userId: string, role: string, classId: string | null, db: Db = this.db): Promise<QuotaRow[]> {
    const which: SQL[] = [
      and(eq(quotas.scope, 'user'), eq(quotas.subject, userId))!,
      and(eq(quotas.scope, 'role'), eq(quotas.subject, role))!,
    ];
    if (classId) which.push(and(eq(quotas.scope, 'class'), eq(quotas.subject, classId))!);
    return db
      .select()
      .from(quotas)
      .where(or(...which));
  }

  /** What the user's labs hold now (warm pool labs are nobody's; stopped labs hold no vCPUs or memory); with `classId`, only labs of that class's assignments. */
  async useOf(userId: string, classId: string | null = null, db: Db = this.db): Promise<QuotaUse> {
    const where: SQL[] = [eq(labs.userId, userId), eq(labs.pool, false), notInArray(labs.status, NOT_HOLDING)];
    if (classId)
      where.push(inArray(labs.assignmentId, db.select({ id: assignments.id }).from(assignments).where(eq(assignments.classId, classId))));
    const [row] = await db
      .select({
        labs: countDistinct(labs.id),
        vcpus: runs(vms.cpus),
        memoryMiB: runs(vms.memoryMiB),
      })
      .from(labs)
      .leftJoin(vms, eq(vms.labId, labs.id))
      .where(and(...where));
    return { labs: Number(row?.labs ?? 0), vcpus: Number(row?.vcpus ?? 0), memoryMiB: Number(row?.memoryMiB ?? 0) };
  }

  /** The class an assignment belongs to. */
  async classOfAssignment(assignmentId: string): Promise<string | undefined> {
    const [row] = await this.db.select({ classId: assignments.classId }).from(assignments).where(eq(assignments.id, assignmentId));
    return row?.classId;
  }

  /** A class's name (`db`: inside the caller's transaction). */
  async classNameOf(classId: string, db: Db = this.db): Promise<string | undefined> {
    const [row] = await db.select({ name: classes.name }).from(classes).where(eq(classes.id, classId));
    return row?.name;
  }

  /** The class quotas that hold a student (of the classes they are enrolled in), with the class's name. */
  async classQuotasOf(userId: string): Promise<(QuotaRow & { className: string })[]> {
    const rows = await this.db
      .select({ quota: quotas, className: classes.name })
      .from(classStudents)
      .innerJoin(classes, eq(classes.id, classStudents.classId))
      .innerJoin(quotas, and(eq(quotas.scope, 'class'), eq(quotas.subject, sql`${classStudents.classId}::text`)))
      .where(eq(classStudents.userId, userId))
      .orderBy(asc(classes.name));
    return rows.map((r) => ({ ...r.quota, className: r.className }));
  }
}
