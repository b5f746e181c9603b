import { and, asc, count, eq, ilike, ne, sql, sum, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { images, labs, labTemplates, vms } from '../db/schema.js';

export type ImageRow = typeof images.$inferSelect;
export type NewImage = typeof images.$inferInsert;

/** Every query on the image library. */
export class ImagesRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<ImageRow | undefined> {
    const [row] = await this.db.select().from(images).where(eq(images.id, id));
    return row;
  }

  async findByName(name: string): Promise<ImageRow | undefined> {
    const [row] = await this.db.select().from(images).where(eq(images.name, name));
    return row;
  }

  async names(): Promise<string[]> {
    const rows = await this.db.select({ name: images.name }).from(images).where(ne(images.status, 'failed'));
    return rows.map((r) => r.name);
  }

  async insert(values: NewImage): Promise<ImageRow> {
    const [row] = await this.db.insert(images).values(values).returning();
    return row!;
  }

  async update(id: string, changes: Partial<NewImage>): Promise<ImageRow | undefined> {
    const [row] = await this.db
      .update(images)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(images.id, id))
      .returning();
    return row;
  }

  async remove(id: string): Promise<void> {
    await this.db.delete(images).where(eq(images.id, id));
  }

  async list(query: { limit: number; offset: number; search?: string }): Promise<{ rows: ImageRow[]; total: number }> {
    const where: SQL[] = [];
    if (query.search) where.push(ilike(images.name, `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    const condition = where.length ? and(...where) : undefined;
    const rows = await this.db.select().from(images).where(condition).orderBy(asc(images.name)).limit(query.limit).offset(query.offset);
    const [total] = await this.db.select({ n: count() }).from(images).where(condition);
    return { rows, total: total?.n ?? 0 };
  }

  /** Bytes the library's stored files use. */
  async usedBytes(): Promise<number> {
    const [row] = await this.db.select({ bytes: sum(images.sizeBytes) }).from(images);
    return Number(row?.bytes ?? 0);
  }

  /** Templates with any version naming the image, and labs (not deleted) with a VM on it. */
  async usage(name: string): Promise<{ templates: { id: string; title: string }[]; labs: number }> {
    const templates = await this.db
      .select({ id: labTemplates.id, title: labTemplates.name })
      .from(labTemplates)
      .where(
        sql`exists (select 1 from lab_template_versions v, jsonb_array_elements(v.config->'vms') vm
                    where v.template_id = ${labTemplates.id} and vm->>'image' = ${name})`,
      )
      .orderBy(asc(labTemplates.name));
    const [labCount] = await this.db
      .select({ n: sql<number>`count(distinct ${labs.id})::int` })
      .from(vms)
      .innerJoin(labs, eq(labs.id, vms.labId))
      .where(and(eq(vms.image, name), ne(labs.status, 'deleted')));
    return { templates, labs: labCount?.n ?? 0 };
  }
}
