import { and, asc, count, desc, eq, exists, inArray, isNull, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import type { LabStatus } from '@ctp/contracts';
import type { Db } from '../db/database.js';
import { classes, classInstructors, classStudents, hosts, labNetworks, labs, labSteps, userLabs, users, vms } from '../db/schema.js';

export type LabRow = typeof labs.$inferSelect;
export type VmRow = typeof vms.$inferSelect;
export type LabNetworkRow = typeof labNetworks.$inferSelect;
export type LabStepRow = typeof labSteps.$inferSelect;
export type LabWithOwner = LabRow & { ownerUsername: string };

const TRANSITIONAL: LabStatus[] = ['provisioning', 'starting', 'stopping', 'resetting', 'deleting'];

/** Every query on labs, their networks, VMs, steps and members. */
export class LabsRepository {
  constructor(private readonly db: Db) {}

  /**
   * Creates the lab with its networks and VMs in one transaction, so no half lab exists.
   * `guard` runs first in that transaction (a quota check): when it throws, nothing is written.
   */
  async create(
    lab: typeof labs.$inferInsert,
    networks: Omit<typeof labNetworks.$inferInsert, 'labId'>[],
    machines: Omit<typeof vms.$inferInsert, 'labId'>[],
    guard: (tx: Db) => Promise<void> = async () => {},
  ): Promise<LabRow> {
    return this.db.transaction(async (tx) => {
      await guard(tx);
      const [row] = await tx.insert(labs).values(lab).returning();
      if (networks.length) await tx.insert(labNetworks).values(networks.map((n) => ({ ...n, labId: row!.id })));
      if (machines.length) await tx.insert(vms).values(machines.map((m) => ({ ...m, labId: row!.id })));
      return row!;
    });
  }

  async findById(id: string): Promise<LabWithOwner | undefined> {
    const [row] = await this.db
      .select({ lab: labs, ownerUsername: users.username })
      .from(labs)
      .innerJoin(users, eq(users.id, labs.userId))
      .where(eq(labs.id, id));
    return row ? { ...row.lab, ownerUsername: row.ownerUsername } : undefined;
  }

  async list(query: {
    limit: number;
    offset: number;
    visibleTo?: string;
    /** Labs `visibleTo` may see plus those of the students this instructor teaches in active classes. */
    watchedBy?: string;
    status?: LabStatus;
    ownerId?: string;
    templateId?: string;
    includeDeleted?: boolean;
  }): Promise<{ rows: LabWithOwner[]; total: number }> {
    const where: SQL[] = [];
    if (query.visibleTo) {
      const member = this.db
        .select({ one: sql`1` })
        .from(userLabs)
        .where(and(eq(userLabs.labId, labs.id), eq(userLabs.userId, query.visibleTo)));
      where.push(or(eq(labs.userId, query.visibleTo), exists(member))!);
    }
    if (query.watchedBy) {
      const member = this.db
        .select({ one: sql`1` })
        .from(userLabs)
        .where(and(eq(userLabs.labId, labs.id), eq(userLabs.userId, query.watchedBy)));
      where.push(or(eq(labs.userId, query.watchedBy), exists(member), inArray(labs.userId, this.studentsTaughtBy(query.watchedBy)))!);
    }
    if (query.status) where.push(eq(labs.status, query.status));
    else if (!query.includeDeleted) where.push(ne(labs.status, 'deleted'));
    if (query.ownerId) where.push(eq(labs.userId, query.ownerId));
    if (query.templateId) where.push(eq(labs.templateId, query.templateId));
    const condition = where.length ? and(...where) : undefined;
    const rows = await this.db
      .select({ lab: labs, ownerUsername: users.username })
      .from(labs)
      .innerJoin(users, eq(users.id, labs.userId))
      .where(condition)
      .orderBy(desc(labs.createdAt))
      .limit(query.limit)
      .offset(query.offset);
    const [total] = await this.db.select({ n: count() }).from(labs).where(condition);
    return { rows: rows.map((r) => ({ ...r.lab, ownerUsername: r.ownerUsername })), total: total?.n ?? 0 };
  }

  async update(id: string, changes: Partial<typeof labs.$inferInsert>): Promise<LabRow | undefined> {
    const [row] = await this.db
      .update(labs)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(labs.id, id))
      .returning();
    return row;
  }

  /** Moves a lab to `to` only if it is in one of `from`; undefined when it was not. */
  async transition(
    id: string,
    from: LabStatus[],
    to: LabStatus,
    changes: Partial<typeof labs.$inferInsert> = {},
    /** Runs first in the same transaction (a quota check under its lock), when given. */
    guard?: (tx: Db) => Promise<void>,
  ): Promise<LabRow | undefined> {
    const move = async (db: Db) => {
      const [row] = await db
        .update(labs)
        .set({ ...changes, status: to, updatedAt: new Date() })
        .where(and(eq(labs.id, id), inArray(labs.status, from)))
        .returning();
      return row;
    };
    if (!guard) return move(this.db);
    return this.db.transaction(async (tx) => {
      await guard(tx);
      return move(tx);
    });
  }

  async networksOf(labId: string): Promise<LabNetworkRow[]> {
    return this.db.select().from(labNetworks).where(eq(labNetworks.labId, labId)).orderBy(asc(labNetworks.name));
  }

  async vmsOf(labId: string): Promise<VmRow[]> {
    return this.db.select().from(vms).where(eq(vms.labId, labId)).orderBy(asc(vms.name));
  }

  async findVm(id: string): Promise<VmRow | undefined> {
    const [row] = await this.db.select().from(vms).where(eq(vms.id, id));
    return row;
  }

  /** Stores the login generated for a VM's guest. */
  async setVmCredentials(id: string, credentials: { username: string; password: string }): Promise<void> {
    await this.db.update(vms).set({ credentials, updatedAt: new Date() }).where(eq(vms.id, id));
  }

  async setVmStatus(id: string, status: string): Promise<VmRow | undefined> {
    const [row] = await this.db.update(vms).set({ status, updatedAt: new Date() }).where(eq(vms.id, id)).returning();
    return row;
  }

  /** Every VM and network the database expects to exist on the hypervisor. */
  async liveDriverNames(): Promise<{
    vms: { driverName: string; id: string; labId: string; status: string; hostId: string | null }[];
    networks: string[];
  }> {
    const live = ne(labs.status, 'deleted');
    const vmRows = await this.db
      .select({ driverName: vms.driverName, id: vms.id, labId: vms.labId, status: vms.status, hostId: labs.hostId })
      .from(vms)
      .innerJoin(labs, eq(labs.id, vms.labId))
      .where(live);
    const networkRows = await this.db
      .select({ driverName: labNetworks.driverName })
      .from(labNetworks)
      .innerJoin(labs, eq(labs.id, labNetworks.labId))
      .where(live);
    return { vms: vmRows, networks: networkRows.map((n) => n.driverName) };
  }

  /** Active labs, running VMs and the memory given to them. */
  async usage(): Promise<{ labsActive: number; vmsRunning: number; vmMemoryMiB: number }> {
    const [labRow] = await this.db
      .select({ n: count() })
      .from(labs)
      .where(and(ne(labs.status, 'deleted'), ne(labs.status, 'error')));
    const [vmRow] = await this.db
      .select({ n: count(), memory: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int` })
      .from(vms)
      .where(eq(vms.status, 'running'));
    return { labsActive: labRow?.n ?? 0, vmsRunning: vmRow?.n ?? 0, vmMemoryMiB: Number(vmRow?.memory ?? 0) };
  }

  /** Labs and VMs (not deleted) by status, and what running VMs hold: for metrics and charts (also by host name; null: no host). */
  async countsByState(): Promise<{
    labs: { status: string; n: number }[];
    vms: { status: string; n: number }[];
    running: { cpus: number; memoryMiB: number };
    vmsByHost: { host: string | null; status: string; n: number }[];
    runningByHost: { host: string | null; cpus: number; memoryMiB: number }[];
  }> {
    const labRows = await this.db
      .select({ status: labs.status, n: count() })
      .from(labs)
      .where(ne(labs.status, 'deleted'))
      .groupBy(labs.status);
    const vmRows = await this.db.select({ status: vms.status, n: count() }).from(vms).where(ne(vms.status, 'deleted')).groupBy(vms.status);
    const [running] = await this.db
      .select({ cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`, memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int` })
      .from(vms)
      .where(eq(vms.status, 'running'));
    const byHost = await this.db
      .select({
        host: hosts.name,
        status: vms.status,
        n: count(),
        cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`,
        memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int`,
      })
      .from(vms)
      .leftJoin(hosts, eq(hosts.id, vms.hostId))
      .where(ne(vms.status, 'deleted'))
      .groupBy(hosts.name, vms.status);
    return {
      labs: labRows.map((r) => ({ status: r.status, n: Number(r.n) })),
      vms: vmRows.map((r) => ({ status: r.status, n: Number(r.n) })),
      running: { cpus: Number(running?.cpus ?? 0), memoryMiB: Number(running?.memoryMiB ?? 0) },
      vmsByHost: byHost.map((r) => ({ host: r.host, status: r.status, n: Number(r.n) })),
      runningByHost: byHost
        .filter((r) => r.status === 'running')
        .map((r) => ({ host: r.host, cpus: Number(r.cpus), memoryMiB: Number(r.memoryMiB) })),
    };
  }

  /** Moves a lab that is still a pool lab (not handed over meanwhile) from one of `from` to `to`. */
  async transitionPoolLab(id: string, from: LabStatus[], to: LabStatus): Promise<LabRow | undefined> {
    const [row] = await this.db
      .update(labs)
      .set({ status: to, updatedAt: new Date() })
      .where(and(eq(labs.id, id), eq(labs.pool, true), inArray(labs.status, from)))
      .returning();
    return row;
  }

  /** A template's warm pool labs that are not being deleted (any template version), oldest first. */
  async poolLabs(templateId: string): Promise<LabRow[]> {
    return this.db
      .select()
      .from(labs)
      .where(and(eq(labs.templateId, templateId), eq(labs.pool, true), ne(labs.status, 'deleted'), ne(labs.status, 'deleting')))
      .orderBy(asc(labs.createdAt));
  }

  /**
   * Takes one running pool lab of the template version for a user, atomically (two requests
   * never get the same lab): it stops being a pool lab and becomes theirs, with `changes`.
   */
  async claimPooled(
    templateId: string,
    templateVersion: number,
    userId: string,
    changes: { expiresAt: Date; createdAt: Date },
    guard: (tx: Db) => Promise<void> = async () => {},
  ): Promise<LabRow | undefined> {
    return this.db.transaction(async (tx) => {
      await guard(tx);
      const [candidate] = await tx
        .select({ id: labs.id })
        .from(labs)
        .where(
          and(eq(labs.templateId, templateId), eq(labs.templateVersion, templateVersion), eq(labs.pool, true), eq(labs.status, 'running')),
        )
        .orderBy(asc(labs.createdAt))
        .limit(1)
        .for('update', { skipLocked: true });
      if (!candidate) return undefined;
      const [row] = await tx
        .update(labs)
        .set({ ...changes, userId, pool: false, updatedAt: new Date() })
        .where(and(eq(labs.id, candidate.id), eq(labs.pool, true), eq(labs.status, 'running')))
        .returning();
      return row;
    });
  }

  async labsInTransition(): Promise<LabRow[]> {
    return this.db.select().from(labs).where(inArray(labs.status, TRANSITIONAL));
  }

  async expiredLabs(now: Date): Promise<LabRow[]> {
    return this.db
      .select()
      .from(labs)
      .where(and(lte(labs.expiresAt, now), ne(labs.status, 'deleted'), ne(labs.status, 'deleting')));
  }

  async labsToWarn(before: Date): Promise<LabRow[]> {
    return this.db
      .select()
      .from(labs)
      .where(
        and(
          lte(labs.expiresAt, before),
          isNull(labs.expiryWarnedAt),
          inArray(labs.status, ['running', 'stopped', 'provisioning', 'starting']),
        ),
      );
  }

  // Steps of the lab's current operation.

  async replaceSteps(labId: string, operation: string, names: string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(labSteps).where(eq(labSteps.labId, labId));
      if (names.length) await tx.insert(labSteps).values(names.map((name, seq) => ({ labId, operation, seq, name })));
    });
  }

  async stepsOf(labId: string): Promise<LabStepRow[]> {
    return this.db.select().from(labSteps).where(eq(labSteps.labId, labId)).orderBy(asc(labSteps.seq));
  }

  async updateStep(labId: string, seq: number, changes: Partial<typeof labSteps.$inferInsert>): Promise<void> {
    await this.db
      .update(labSteps)
      .set(changes)
      .where(and(eq(labSteps.labId, labId), eq(labSteps.seq, seq)));
  }

  // Members (the seed's user_labs).

  async membersOf(labId: string): Promise<{ id: string; username: string }[]> {
    return this.db
      .select({ id: users.id, username: users.username })
      .from(userLabs)
      .innerJoin(users, eq(users.id, userLabs.userId))
      .where(eq(userLabs.labId, labId))
      .orderBy(asc(users.username));
  }

  async addMember(labId: string, userId: string): Promise<void> {
    await this.db.insert(userLabs).values({ labId, userId }).onConflictDoNothing();
  }

  async removeMember(labId: string, userId: string): Promise<boolean> {
    const rows = await this.db
      .delete(userLabs)
      .where(and(eq(userLabs.labId, labId), eq(userLabs.userId, userId)))
      .returning({ userId: userLabs.userId });
    return rows.length > 0;
  }

  /** Ids of the labs a user owns or is a member of (what a non-staff user may see). */
  async labIdsOf(userId: string): Promise<string[]> {
    const owned = this.db.select({ id: labs.id }).from(labs).where(eq(labs.userId, userId));
    const joined = this.db.select({ id: userLabs.labId }).from(userLabs).where(eq(userLabs.userId, userId));
    const rows = await owned.union(joined);
    return rows.map((r) => r.id);
  }

  /** Ids of the labs an instructor may watch: their own, shared ones, and those of the students they teach. */
  async labIdsWatchedBy(userId: string): Promise<string[]> {
    const taught = this.db
      .select({ id: labs.id })
      .from(labs)
      .where(inArray(labs.userId, this.studentsTaughtBy(userId)));
    const rows = await taught
      .union(this.db.select({ id: labs.id }).from(labs).where(eq(labs.userId, userId)))
      .union(this.db.select({ id: userLabs.labId }).from(userLabs).where(eq(userLabs.userId, userId)));
    return rows.map((r) => r.id);
  }

  /** The students an instructor teaches in active classes (a subquery). */
  private studentsTaughtBy(instructorId: string) {
    return this.db
      .select({ userId: classStudents.userId })
      .from(classInstructors)
      .innerJoin(classes, and(eq(classes.id, classInstructors.classId), eq(classes.archived, false)))
      .innerJoin(classStudents, eq(classStudents.classId, classInstructors.classId))
      .where(eq(classInstructors.userId, instructorId));
  }

  /** Ids of the users who may see a lab besides staff: owner and members. */
  async memberIds(labId: string): Promise<string[]> {
    const rows = await this.db.select({ userId: userLabs.userId }).from(userLabs).where(eq(userLabs.labId, labId));
    return rows.map((r) => r.userId);
  }
}
