import type { AuditList, AuditOutcome, AuditQuery } from '@ctp/contracts';
import { presentAuditEvent } from '../presenters/staff.presenter.js';
import type { AuditRepository } from '../repositories/audit.repository.js';
import { authorize, type Actor } from '../policy/policy.js';
import { CONTROL_CHARACTERS } from '../errors.js';
import { LONE_SURROGATE } from './hostile-values.js';

const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

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

// Refused requests are recorded too, so every value may be hostile: the trail keeps a bounded,
// printable version of it (PostgreSQL refuses NUL in text; a megabyte of garbage helps no one).

/** A string as the audit trail stores it: no control characters, at most `max` characters. */
export function auditText(value: string, max = 200): string {
  const clean = value.replace(CONTROL_CHARACTERS, '').replace(LONE_SURROGATES, '\uFFFD');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

const auditTextOrNull = (value: string | null | undefined, max?: number) => (value == null ? null : auditText(String(value), max));

/** Details as the audit trail stores them: plain JSON, shallow, with short printable strings. */
export function auditDetails(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return auditText(value, 500);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean' || value === null || value === undefined) return value ?? null;
  if (depth >= 4 || typeof value !== 'object') return '[omitted]';
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => auditDetails(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value)
      .slice(0, 50)
      .map(([key, item]) => [auditText(key, 100), auditDetails(item, depth + 1)]),
  );
}

/** Writes and reads the audit trail: who did what to which target, when, with what outcome. */
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  /** Records one event, every value sanitized, so that hostile input cannot make the insert fail. */
  async record(event: AuditRecord): Promise<void> {
    await this.audit.insert({
      actorId: event.actor?.id ?? null,
      actorUsername: auditTextOrNull(event.actor?.username, 100),
      action: auditText(event.action, 200),
      targetType: auditTextOrNull(event.targetType, 50),
      targetId: auditTextOrNull(event.targetId, 200),
      outcome: event.outcome,
      statusCode: Number.isInteger(event.statusCode) ? event.statusCode! : null,
      ip: auditTextOrNull(event.ip, 64),
      requestId: auditTextOrNull(event.requestId, 64),
      details: auditDetails(event.details ?? {}) as Record<string, unknown>,
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
