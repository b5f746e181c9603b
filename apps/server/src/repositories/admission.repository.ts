import { and, asc, eq, inArray, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { assignments, labs, platformSettings, vms } from '../db/schema.js';

/** Lab states that hold no capacity: waiting, gone, or failed (a failed provisioning destroys its VMs). */
const HOLD_NOTHING = ['queued', 'deleted', 'error'];
/** One lock for every admission decision, on every API instance. */
const ADMISSION_LOCK = 7_270_112;

export interface Resources {
  cpus: number;
  memoryMiB: number;
}

/** Every query of admission control: what admitted labs hold, the FIFO queue, platform settings. */
export class AdmissionRepository {
  constructor(private readonly db: Db) {}

  /** vCPUs and memory held by admitted labs. */
  async used(): Promise<Resources> {
    const [row] = await this.db
      .select({ cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`, memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int` })
      .from(vms)
      .innerJoin(labs, eq(labs.id, vms.labId))
      .where(notInArray(labs.status, HOLD_NOTHING));
    return { cpus: Number(row?.cpus ?? 0), memoryMiB: Number(row?.memoryMiB ?? 0) };
  }

  /**
   * Admits queued labs in FIFO order while they fit in `limit` (a lab that does not fit blocks
   * those behind it, so that a big lab is never starved by small ones), under one lock so that two
   * instances never promise the same capacity. Admitted labs move to `provisioning` and their
   * expiry moves by the time they waited (never past their assignment's close). Returns their ids, in order.
   */
  async admit(limit: Resources): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${ADMISSION_LOCK})`);
      const [held] = await tx
        .select({ cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`, memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int` })
        .from(vms)
        .innerJoin(labs, eq(labs.id, vms.labId))
        .where(notInArray(labs.status, HOLD_NOTHING));
      const used = { cpus: Number(held?.cpus ?? 0), memoryMiB: Number(held?.memoryMiB ?? 0) };
      const queue = await tx
        .select({
          id: labs.id,
          cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`,
          memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int`,
        })
        .from(labs)
        .leftJoin(vms, eq(vms.labId, labs.id))
        .where(eq(labs.status, 'queued'))
        .groupBy(labs.id, labs.queuedAt)
        .orderBy(asc(labs.queuedAt), asc(labs.id));
      const admitted: string[] = [];
      for (const lab of queue) {
        const cpus = used.cpus + Number(lab.cpus);
        const memoryMiB = used.memoryMiB + Number(lab.memoryMiB);
        if (cpus > limit.cpus || memoryMiB > limit.memoryMiB) break;
        used.cpus = cpus;
        used.memoryMiB = memoryMiB;
        admitted.push(lab.id);
      }
      if (admitted.length)
        await tx
          .update(labs)
          .set({
            status: 'provisioning',
            // The wait does not count against the lab's time, but it never outlives its assignment.
            expiresAt: sql`least(${labs.expiresAt} + (now() - coalesce(${labs.queuedAt}, now())), coalesce((select ${assignments.closesAt} from ${assignments} where ${assignments.id} = ${labs.assignmentId}), 'infinity'::timestamptz))`,
            updatedAt: new Date(),
          })
          .where(and(inArray(labs.id, admitted), eq(labs.status, 'queued')));
      return admitted;
    });
  }

  /** Queued labs in order, with their owners: position = index + 1. */
  async queue(): Promise<{ id: string; userId: string }[]> {
    return this.db
      .select({ id: labs.id, userId: labs.userId })
      .from(labs)
      .where(eq(labs.status, 'queued'))
      .orderBy(asc(labs.queuedAt), asc(labs.id));
  }

  async setting(key: string): Promise<unknown> {
    const [row] = await this.db.select({ value: platformSettings.value }).from(platformSettings).where(eq(platformSettings.key, key));
    return row?.value;
  }

  async saveSetting(key: string, value: unknown): Promise<void> {
    await this.db
      .insert(platformSettings)
      .values({ key, value })
      .onConflictDoUpdate({ target: platformSettings.key, set: { value, updatedAt: new Date() } });
  }
}
