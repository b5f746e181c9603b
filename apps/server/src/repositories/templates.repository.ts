import { and, count, desc, eq, ilike, or, sql, type SQL } from 'drizzle-orm';
import type { TemplateStatus } from '@ctp/contracts';
import type { Db } from '../db/database.js';
import { labTemplates, labTemplateVersions } from '../db/schema.js';

export type TemplateRow = typeof labTemplates.$inferSelect;
/** A template as lists need it: without its config and source. */
export type TemplateSummaryRow = Omit<TemplateRow, 'config' | 'source' | 'warmPoolSize' | 'warmPoolOwnerId'>;

/** Every query on lab templates and their versions. */
export class TemplatesRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<TemplateRow | undefined> {
    const [row] = await this.db.select().from(labTemplates).where(eq(labTemplates.id, id));
    return row;
  }

  async findByName(name: string): Promise<TemplateRow | undefined> {
    const [row] = await this.db.select().from(labTemplates).where(eq(labTemplates.name, name));
    return row;
  }

  /** Creates a template and its version 1 together. */
  async create(values: {
    name: string;
    description: string;
    config: unknown;
    source: string;
    ownerId: string | null;
    status?: TemplateStatus;
  }): Promise<TemplateRow> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(labTemplates).values(values).returning();
      await tx
        .insert(labTemplateVersions)
        .values({ templateId: row!.id, version: 1, config: values.config, source: values.source, createdBy: values.ownerId });
      return row!;
    });
  }

  /** Stores a new version and makes it current. */
  async addVersion(
    id: string,
    values: { name: string; description: string; config: unknown; source: string; createdBy: string | null },
  ): Promise<TemplateRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(labTemplates)
        .set({
          name: values.name,
          description: values.description,
          config: values.config,
          source: values.source,
          version: sql`${labTemplates.version} + 1`,
          updatedAt: new Date(),
        })
        .where(eq(labTemplates.id, id))
        .returning();
      if (!row) return undefined;
      await tx
        .insert(labTemplateVersions)
        .values({ templateId: id, version: row.version, config: values.config, source: values.source, createdBy: values.createdBy });
      return row;
    });
  }

  /** Who wrote the template's current version (null: the platform itself, or a deleted user). */
  async currentVersionAuthor(id: string): Promise<string | null | undefined> {
    const [row] = await this.db
      .select({ createdBy: labTemplateVersions.createdBy })
      .from(labTemplateVersions)
      .innerJoin(
        labTemplates,
        and(eq(labTemplates.id, labTemplateVersions.templateId), eq(labTemplates.version, labTemplateVersions.version)),
      )
      .where(eq(labTemplates.id, id));
    return row ? row.createdBy : undefined;
  }

  /** Sets a template's warm pool size and who owns its pool labs. */
  async setWarmPool(id: string, size: number, ownerId: string): Promise<TemplateRow | undefined> {
    const [row] = await this.db
      .update(labTemplates)
      .set({ warmPoolSize: size, warmPoolOwnerId: ownerId, updatedAt: new Date() })
      .where(eq(labTemplates.id, id))
      .returning();
    return row;
  }

  /** Ids of the templates that keep a warm pool. */
  async withWarmPool(): Promise<string[]> {
    const rows = await this.db
      .select({ id: labTemplates.id })
      .from(labTemplates)
      .where(sql`${labTemplates.warmPoolSize} > 0`);
    return rows.map((r) => r.id);
  }

  async setStatus(id: string, status: TemplateStatus): Promise<TemplateRow | undefined> {
    const [row] = await this.db.update(labTemplates).set({ status, updatedAt: new Date() }).where(eq(labTemplates.id, id)).returning();
    return row;
  }

  async list(query: {
    limit: number;
    offset: number;
    status?: TemplateStatus;
    search?: string;
    onlyStatus?: TemplateStatus;
    /** Only published templates and this user's own. */
    publishedOrOwnedBy?: string;
  }): Promise<{ rows: TemplateSummaryRow[]; total: number }> {
    const where: SQL[] = [];
    if (query.publishedOrOwnedBy) where.push(or(eq(labTemplates.status, 'published'), eq(labTemplates.ownerId, query.publishedOrOwnedBy))!);
    if (query.status) where.push(eq(labTemplates.status, query.status));
    if (query.onlyStatus) where.push(eq(labTemplates.status, query.onlyStatus));
    if (query.search) where.push(ilike(labTemplates.name, `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    const condition = where.length ? and(...where) : undefined;
    // One round trip: the page and the total (a window count) together; configs stay in the table.
    const found = await this.db
      .select({
        id: labTemplates.id,
        name: labTemplates.name,
        description: labTemplates.description,
        version: labTemplates.version,
        status: labTemplates.status,
        ownerId: labTemplates.ownerId,
        createdAt: labTemplates.createdAt,
        updatedAt: labTemplates.updatedAt,
        total: sql<number>`count(*) over ()`.mapWith(Number),
      })
      .from(labTemplates)
      .where(condition)
      .orderBy(desc(labTemplates.updatedAt))
      .limit(query.limit)
      .offset(query.offset);
    if (found.length === 0 && query.offset > 0) {
      // A page past the end has no row to carry the total.
      const [total] = await this.db.select({ n: count() }).from(labTemplates).where(condition);
      return { rows: [], total: total?.n ?? 0 };
    }
    return { rows: found.map(({ total: _total, ...row }) => row), total: found[0]?.total ?? 0 };
  }
}
