import type { AuditList, AuditOutcome, AuditQuery } from '@ctp/contracts';
import { presentAuditEvent } from '../presenters.js';
import type { AuditRepository } from '../repositories/audit.repository.js';
import { authorize, type Actor } from '../policy/policy.js';

export interface AuditRecord {
  actor?: { id: string; username: string } | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  outcome: AuditOutcome;
  statusCode?: number;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** Writes and reads the audit trail: who did what to which target, when, with what outcome. */
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  /** Records one event. */
  async record(event: AuditRecord): Promise<void> {
    await this.audit.insert({
      actorId: event.actor?.id ?? null,
      actorUsername: event.actor?.username ?? null,
      action: event.action,
      targetType: event.targetType ?? null,
      targetId: event.targetId ?? null,
      outcome: event.outcome,
      statusCode: event.statusCode ?? null,
      ip: event.ip ?? null,
      requestId: event.requestId ?? null,
      details: event.details ?? {},
    });
  }

  /** Lists events, newest first, for those allowed to read the trail. */
  async list(actor: Actor, query: AuditQuery): Promise<AuditList> {
    authorize(actor, 'audit.read');
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const { rows, total } = await this.audit.list({
      limit,
      offset,
      action: query.action,
      actorId: query.actorId,
      actor: query.actor,
      targetId: query.targetId,
      outcome: query.outcome,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
    });
    return { items: rows.map(presentAuditEvent), total, limit, offset };
  }
}
