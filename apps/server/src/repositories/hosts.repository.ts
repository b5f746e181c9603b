import { and, asc, eq, inArray, isNull, lt, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { hosts, labs, vms } from '../db/schema.js';

export type HostRow = typeof hosts.$inferSelect;
export type HostState = 'up' | 'draining' | 'down';

/** Lab states that hold no capacity on a host: waiting, gone, or failed. */
export const HOLD_NOTHING = ['queued', 'deleted', 'error'];

/** What a process that runs a driver says about its machine when it registers. */
export interface HostRegistration {
  name: string;
  address: string | null;
  cpus: number;
  memoryMiB: number;
  diskBytes: number;
  accelerator: string;
  driver: string;
}

/** A host with what its admitted labs hold. */
export interface HostWithUse extends HostRow {
  usedCpus: number;
  usedMemoryMiB: number;
  labs: number;
  vms: number;
}

/** The state a live host is in: `draining` when an admin drained it, else `up`. */
const liveState = sql`case when ${hosts.drained} then 'draining' else 'up' end`;

/** Every query on hypervisor hosts: registration, heartbeats, staleness, drain, use. */
export class HostsRepository {
  constructor(private readonly db: Db) {}

  /**
   * Registers a host by name (idempotent: capacity and driver are refreshed, an admin's drain is
   * kept), and gives it the live labs and VMs that have no host yet (made before hosts existed,
   * on this machine). Returns the row and the state it had before (undefined when new).
   */
  async register(host: HostRegistration, now: Date): Promise<{ row: HostRow; previous: HostState | undefined }> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select({ state: hosts.state }).from(hosts).where(eq(hosts.name, host.name)).for('update');
      const [row] = await tx
        .insert(hosts)
        .values({ ...host, state: 'up', lastHeartbeatAt: now })
        .onConflictDoUpdate({
          target: hosts.name,
          set: { ...host, state: sql`${liveState}`, lastHeartbeatAt: now, updatedAt: now },
        })
        .returning();
      const live = notInArray(labs.status, HOLD_NOTHING);
      const adopted = await tx
        .update(labs)
        .set({ hostId: row!.id })
        .where(and(isNull(labs.hostId), live))
        .returning({ id: labs.id });
      if (adopted.length)
        await tx
          .update(vms)
          .set({ hostId: row!.id })
          .where(
            and(
              isNull(vms.hostId),
              inArray(
                vms.labId,
                adopted.map((l) => l.id),
              ),
            ),
          );
      return { row: row!, previous: before?.state as HostState | undefined };
    });
  }

  /** Records a heartbeat; a `down` host comes back (`up`, or `draining` if drained). Returns the states before and after. */
  async heartbeat(id: string, now: Date): Promise<{ previous: HostState; state: HostState } | undefined> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select({ state: hosts.state }).from(hosts).where(eq(hosts.id, id)).for('update');
      if (!before) return undefined;
      const [row] = await tx
        .update(hosts)
        .set({ lastHeartbeatAt: now, state: sql`${liveState}`, updatedAt: now })
        .where(eq(hosts.id, id))
        .returning({ state: hosts.state });
      return { previous: before.state as HostState, state: row!.state as HostState };
    });
  }

  /** Marks `down` every host not heard from since `cutoff`; returns those it marked. */
  async markStale(cutoff: Date, now: Date): Promise<HostRow[]> {
    return this.db
      .update(hosts)
      .set({ state: 'down', updatedAt: now })
      .where(and(lt(hosts.lastHeartbeatAt, cutoff), sql`${hosts.state} <> 'down'`))
      .returning();
  }

  /** Drains (no new labs) or undrains a host; a down host stays down until it heartbeats. */
  async setDrained(id: string, drained: boolean, now: Date): Promise<HostRow | undefined> {
    const [row] = await this.db
      .update(hosts)
      .set({
        drained,
        state: sql`case when ${hosts.state} = 'down' then 'down' when ${drained} then 'draining' else 'up' end`,
        updatedAt: now,
      })
      .where(eq(hosts.id, id))
      .returning();
    return row;
  }

  async findById(id: string): Promise<HostRow | undefined> {
    const [row] = await this.db.select().from(hosts).where(eq(hosts.id, id));
    return row;
  }

  async findByName(name: string): Promise<HostRow | undefined> {
    const [row] = await this.db.select().from(hosts).where(eq(hosts.name, name));
    return row;
  }

  /** Every host with what its admitted labs hold, by name. */
  async listWithUse(): Promise<HostWithUse[]> {
    const rows = await this.db.select().from(hosts).orderBy(asc(hosts.name));
    const use = await this.db
      .select({
        hostId: labs.hostId,
        cpus: sql<number>`coalesce(sum(${vms.cpus}), 0)::int`,
        memoryMiB: sql<number>`coalesce(sum(${vms.memoryMiB}), 0)::int`,
        labs: sql<number>`count(distinct ${labs.id})::int`,
        vms: sql<number>`count(${vms.id})::int`,
      })
      .from(labs)
      .leftJoin(vms, eq(vms.labId, labs.id))
      .where(notInArray(labs.status, HOLD_NOTHING))
      .groupBy(labs.hostId);
    return rows.map((row) => {
      const held = use.find((u) => u.hostId === row.id);
      return {
        ...row,
        usedCpus: Number(held?.cpus ?? 0),
        usedMemoryMiB: Number(held?.memoryMiB ?? 0),
        labs: Number(held?.labs ?? 0),
        vms: Number(held?.vms ?? 0),
      };
    });
  }

  /** Live labs on a host, with their owners (to tell them the host's state). */
  async liveLabsOn(hostId: string): Promise<{ id: string; userId: string; status: string }[]> {
    return this.db
      .select({ id: labs.id, userId: labs.userId, status: labs.status })
      .from(labs)
      .where(and(eq(labs.hostId, hostId), notInArray(labs.status, HOLD_NOTHING)));
  }

  /**
   * The host a VM lives on, by the name the driver knows it by: the VM's own host, else its lab's
   * (VMs made before hosts existed carry none). Undefined for a VM the database does not know
   * (a template's reference VM) or one on no host.
   */
  async hostOfVm(driverName: string): Promise<Pick<HostRow, 'id' | 'name' | 'address' | 'state'> | undefined> {
    const [row] = await this.db
      .select({ id: hosts.id, name: hosts.name, address: hosts.address, state: hosts.state })
      .from(vms)
      .innerJoin(labs, eq(labs.id, vms.labId))
      .innerJoin(hosts, eq(hosts.id, sql`coalesce(${vms.hostId}, ${labs.hostId})`))
      .where(eq(vms.driverName, driverName))
      .limit(1);
    return row;
  }

  /** A host whose agent the API can call (`up`, with an address), least recently registered first; undefined when none. */
  async anyAgent(): Promise<Pick<HostRow, 'name' | 'address' | 'state'> | undefined> {
    const [row] = await this.db
      .select({ name: hosts.name, address: hosts.address, state: hosts.state })
      .from(hosts)
      .where(and(eq(hosts.state, 'up'), sql`${hosts.address} is not null`))
      .orderBy(asc(hosts.createdAt))
      .limit(1);
    return row;
  }
}
