import { and, asc, eq, gt, gte, lt, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { labs, labSteps, platformSamples } from '../db/schema.js';

export type PlatformSampleRow = typeof platformSamples.$inferSelect;

/** The minute-by-minute samples behind the admin overview. */
export class StatsRepository {
  constructor(private readonly db: Db) {}

  /** Stores a sample; a second one for the same minute (another instance) is ignored. */
  async insert(sample: PlatformSampleRow): Promise<void> {
    await this.db.insert(platformSamples).values(sample).onConflictDoNothing();
  }

  async since(from: Date): Promise<PlatformSampleRow[]> {
    return this.db.select().from(platformSamples).where(gte(platformSamples.sampledAt, from)).orderBy(asc(platformSamples.sampledAt));
  }

  async deleteBefore(before: Date): Promise<number> {
    const deleted = await this.db
      .delete(platformSamples)
      .where(lt(platformSamples.sampledAt, before))
      .returning({ at: platformSamples.sampledAt });
    return deleted.length;
  }

  /** Seconds from request to running of labs whose provisioning finished in (from, to]. */
  async provisioningTimes(from: Date, to: Date): Promise<number[]> {
    const rows = await this.db
      .select({ createdAt: labs.createdAt, finishedAt: sql<string>`max(${labSteps.finishedAt})` })
      .from(labs)
      .innerJoin(labSteps, and(eq(labSteps.labId, labs.id), eq(labSteps.operation, 'provision')))
      .groupBy(labs.id, labs.createdAt)
      .having(
        and(
          sql`bool_and(${labSteps.status} = 'done')`,
          sql`max(${labSteps.finishedAt}) > ${from.toISOString()}`,
          sql`max(${labSteps.finishedAt}) <= ${to.toISOString()}`,
        ),
      );
    return rows.map((r) => (new Date(r.finishedAt).getTime() - new Date(r.createdAt).getTime()) / 1000);
  }

  /** Request-to-ready times (every guest answered), in seconds, of labs that became ready in (from, to]. */
  async readyTimes(from: Date, to: Date): Promise<number[]> {
    const rows = await this.db
      .select({ createdAt: labs.createdAt, readyAt: labs.readyAt })
      .from(labs)
      .where(and(gt(labs.readyAt, from), lte(labs.readyAt, to)));
    return rows.map((r) => (r.readyAt!.getTime() - r.createdAt.getTime()) / 1000);
  }

  /** Labs whose provisioning ended in error in (from, to]. */
  async provisioningFailures(from: Date, to: Date): Promise<number> {
    const rows = await this.db
      .select({ id: labs.id })
      .from(labs)
      .innerJoin(labSteps, and(eq(labSteps.labId, labs.id), eq(labSteps.operation, 'provision'), eq(labSteps.status, 'failed')))
      .where(and(eq(labs.status, 'error'), gt(labs.updatedAt, from), lte(labs.updatedAt, to)))
      .groupBy(labs.id);
    return rows.length;
  }
}
