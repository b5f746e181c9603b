import { and, asc, eq, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { assignments, hosts, labs, platformSettings, vms } from '../db/schema.js';
import { HOLD_NOTHING } from './hosts.repository.js';

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
   * Admits queued labs in FIFO order, each onto the `up` host with room (within `limitOf` that
   * host) that has the most memory free, so that load spreads; a lab that fits on no host blocks
   * those behind it, so that a big lab is never starved by small ones. Under one lock so that two
   * instances never promise the same capacity. Admitted labs (and their VMs) get their host and
   * move to `provisioning`; their expiry moves by the time they waited (never past their
   * assignment's close). Returns their ids, in order.
   */
  async admit(limitOf: (host: Resources) => Resources): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${ADMISSION_LOCK})`);
      const up = await tx
        .select({ id: hosts.id, cpus: hosts.cpus, memoryMiB: hosts.memoryMiB })
        .from(hosts)
        .where(eq(hosts.state, 'up'))
        .orderBy(asc(hosts.name));
      const held = await tx
        .select({
          hostId: labs.hostId,
          cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`,
          memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int`,
        })
        .from(vms)
        .innerJoin(labs, eq(labs.id, vms.labId))
        .where(notInArray(labs.status, HOLD_NOTHING))
        .groupBy(labs.hostId);
      const free = up.map((host) => {
        const limit = limitOf(host);
        const used = held.find((h) => h.hostId === host.id);
        return { id: host.id, cpus: limit.cpus - Number(used?.cpus ?? 0), memoryMiB: limit.memoryMiB - Number(used?.memoryMiB ?? 0) };
      });
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
        const need = { cpus: Number(lab.cpus), memoryMiB: Number(lab.memoryMiB) };
        const host = free.filter((h) => h.cpus >= need.cpus && h.memoryMiB >= need.memoryMiB).sort((a, b) => b.memoryMiB - a.memoryMiB)[0];
        if (!host) break;
        host.cpus -= need.cpus;
        host.memoryMiB -= need.memoryMiB;
        const [moved] = await tx
          .update(labs)
          .set({
            status: 'provisioning',
            hostId: host.id,
            // The wait does not count against the lab's time, but it never outlives its assignment.
            expiresAt: sql`least(${labs.expiresAt} + (now() - coalesce(${labs.queuedAt}, now())), coalesce((select ${assignments.closesAt} from ${assignments} where ${assignments.id} = ${labs.assignmentId}), 'infinity'::timestamptz))`,
            updatedAt: new Date(),
          })
          .where(and(eq(labs.id, lab.id), eq(labs.status, 'queued')))
          .returning({ id: labs.id });
        if (!moved) continue;
        await tx.update(vms).set({ hostId: host.id }).where(eq(vms.labId, lab.id));
        admitted.push(lab.id);
      }
      return admitted;
    });
  }

  /** Every registered host with its state and capacity, by name. */
  async hosts(): Promise<{ id: string; name: string; state: string; cpus: number; memoryMiB: number }[]> {
    return this.db
      .select({ id: hosts.id, name: hosts.name, state: hosts.state, cpus: hosts.cpus, memoryMiB: hosts.memoryMiB })
      .from(hosts)
      .orderBy(asc(hosts.name));
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
