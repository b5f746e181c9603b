import { and, count, desc, eq, gte, like, lte, or, sql, type SQL } from 'drizzle-orm';
import type { AuditOutcome } from '@ctp/contracts';
import type { Db } from '../db/database.js';
import { auditEvents } from '../db/schema.js';

export type AuditRow = typeof auditEvents.$inferSelect;
export type NewAuditEvent = typeof auditEvents.$inferInsert;

export interface AuditFilter {
  limit: number;
  offset: number;
  action?: string;
  actorId?: string;
  actor?: string;
  targetId?: string;
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
}

/** Every query on `audit_events`. */
export class AuditRepository {
  constructor(private readonly db: Db) {}

  async insert(event: NewAuditEvent): Promise<void> {
    await this.db.insert(auditEvents).values(event);
  }

  async list(filter: AuditFilter): Promise<{ rows: AuditRow[]; total: number }> {
    const where: SQL[] = [];
    if (filter.action?.endsWith('*'))
      where.push(like(auditEvents.action, `${filter.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    else if (filter.action) where.push(eq(auditEvents.action, filter.action));
    if (filter.actorId) where.push(eq(auditEvents.actorId, filter.actorId));
    if (filter.actor) where.push(sql`lower(${auditEvents.actorUsername}) = lower(${filter.actor})`);
    if (filter.targetId) where.push(eq(auditEvents.targetId, filter.targetId));
    if (filter.outcome) where.push(eq(auditEvents.outcome, filter.outcome));
    if (filter.since) where.push(gte(auditEvents.at, filter.since));
    if (filter.until) where.push(lte(auditEvents.at, filter.until));
    const condition = where.length ? and(...where) : undefined;
    const rows = await this.db
      .select()
      .from(auditEvents)
      .where(condition)
      .orderBy(desc(auditEvents.at), desc(auditEvents.id))
      .limit(filter.limit)
      .offset(filter.offset);
    const [total] = await this.db.select({ n: count() }).from(auditEvents).where(condition);
    return { rows, total: total?.n ?? 0 };
  }

  /** Failed logins since `since`: for the account, for the address, and for the two together. */
  async loginFailures(username: string, ip: string, since: Date): Promise<{ account: number; address: number; pair: number }> {
    const account = eq(auditEvents.targetId, username.toLowerCase());
    const address = eq(auditEvents.ip, ip);
    const [row] = await this.db
      .select({
        account: sql<number>`count(*) filter (where ${account})`.mapWith(Number),
        address: sql<number>`count(*) filter (where ${address})`.mapWith(Number),
        pair: sql<number>`count(*) filter (where ${and(account, address)})`.mapWith(Number),
      })
      .from(auditEvents)
      .where(
        and(eq(auditEvents.action, 'auth.login'), eq(auditEvents.outcome, 'failure'), gte(auditEvents.at, since), or(account, address)),
      );
    return { account: row?.account ?? 0, address: row?.address ?? 0, pair: row?.pair ?? 0 };
  }

  /** Failed logins since `since`, for one account name or one client address. */
  async countLoginFailures(by: { username?: string; ip?: string }, since: Date): Promise<number> {
    const who = by.username ? eq(auditEvents.targetId, by.username.toLowerCase()) : eq(auditEvents.ip, by.ip ?? '');
    const [row] = await this.db
      .select({ n: count() })
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'auth.login'), eq(auditEvents.outcome, 'failure'), gte(auditEvents.at, since), who));
    return row?.n ?? 0;
  }
}
