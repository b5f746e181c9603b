import { and, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { labs, labTemplateVersions, templateStates, vms } from '../db/schema.js';

export type TemplateStateRow = typeof templateStates.$inferSelect;
export type TemplateStateStatus = 'preparing' | 'ready' | 'failed' | 'stale';

/** Every query on template states: saved running states of template VMs. */
export class TemplateStatesRepository {
  constructor(private readonly db: Db) {}

  /** The live (preparing or ready) state of a key, else its latest failed or stale one. */
  async findByKey(key: string): Promise<TemplateStateRow | undefined> {
    const rows = await this.db.select().from(templateStates).where(eq(templateStates.key, key)).orderBy(desc(templateStates.updatedAt));
    return rows.find((r) => r.status === 'preparing' || r.status === 'ready') ?? rows[0];
  }

  async findByStateName(stateName: string): Promise<TemplateStateRow | undefined> {
    const [row] = await this.db.select().from(templateStates).where(eq(templateStates.stateName, stateName));
    return row;
  }

  /** The config of one version of a template. */
  async versionConfig(templateId: string, version: number): Promise<unknown> {
    const [row] = await this.db
      .select({ config: labTemplateVersions.config })
      .from(labTemplateVersions)
      .where(and(eq(labTemplateVersions.templateId, templateId), eq(labTemplateVersions.version, version)));
    return row?.config;
  }

  async listForTemplate(templateId: string): Promise<TemplateStateRow[]> {
    return this.db.select().from(templateStates).where(eq(templateStates.templateId, templateId));
  }

  /**
   * Claims the preparation of a key: inserts a `preparing` row unless a live one exists (one
   * that is ready, or preparing for less than `abandonedAfterMs`: a crashed preparation is
   * failed and claimed again). Returns undefined when the key is taken.
   */
  async claim(
    values: Omit<typeof templateStates.$inferInsert, 'id' | 'status' | 'createdAt' | 'updatedAt'>,
    abandonedAfterMs: number,
  ): Promise<TemplateStateRow | undefined> {
    await this.db
      .update(templateStates)
      .set({ status: 'failed', error: 'preparation abandoned (server restarted?)', updatedAt: new Date() })
      .where(
        and(
          eq(templateStates.key, values.key),
          eq(templateStates.status, 'preparing'),
          lt(templateStates.updatedAt, new Date(Date.now() - abandonedAfterMs)),
        ),
      );
    const [inserted] = await this.db.insert(templateStates).values(values).onConflictDoNothing().returning();
    return inserted;
  }

  async update(id: string, changes: Partial<Pick<TemplateStateRow, 'status' | 'error' | 'sizeBytes' | 'prepareMs'>>): Promise<void> {
    await this.db
      .update(templateStates)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(templateStates.id, id));
  }

  /** Marks a state unusable (damaged, missing) unless it was prepared again since. */
  async markStale(stateName: string, error: string): Promise<void> {
    await this.db
      .update(templateStates)
      .set({ status: 'stale', error, updatedAt: new Date() })
      .where(and(eq(templateStates.stateName, stateName), eq(templateStates.status, 'ready')));
  }

  /** States no lab uses any more: stale or failed ones, and those of older template versions, with no live VM on them. */
  async unused(templateId: string, currentVersion: number): Promise<TemplateStateRow[]> {
    const candidates = await this.db
      .select()
      .from(templateStates)
      .where(
        and(
          eq(templateStates.templateId, templateId),
          sql`(${templateStates.status} in ('failed', 'stale') or ${lt(templateStates.templateVersion, currentVersion)})`,
        ),
      );
    if (candidates.length === 0) return [];
    const used = await this.db
      .selectDistinct({ savedState: vms.savedState })
      .from(vms)
      .innerJoin(labs, eq(labs.id, vms.labId))
      .where(
        and(
          inArray(
            vms.savedState,
            candidates.map((c) => c.stateName),
          ),
          ne(labs.status, 'deleted'),
        ),
      );
    const inUse = new Set(used.map((u) => u.savedState));
    return candidates.filter((c) => !inUse.has(c.stateName));
  }

  async recordVm(vmId: string, stateName: string | null): Promise<void> {
    await this.db.update(vms).set({ savedState: stateName }).where(eq(vms.id, vmId));
  }

  async vmState(vmId: string): Promise<string | null> {
    const [row] = await this.db.select({ savedState: vms.savedState }).from(vms).where(eq(vms.id, vmId));
    return row?.savedState ?? null;
  }

  async delete(id: string): Promise<void> {
    await this.db.delete(templateStates).where(eq(templateStates.id, id));
  }
}
