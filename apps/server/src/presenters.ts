import type { AuditEvent, LabTemplateConfig, Template, TemplateStatus, TemplateSummary, User } from '@ctp/contracts';
import type { TemplateRow } from './repositories/templates.repository.js';
import type { AuditRow } from './repositories/audit.repository.js';
import type { UserRow } from './repositories/users.repository.js';

// The one place that shapes database rows into the wire format; secrets never get past here.

/** A user as the API shows it (never the password hash). */
export function presentUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role as User['role'],
    disabled: row.disabled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** An audit event as the API shows it. */
export function presentAuditEvent(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actorId: row.actorId,
    actorUsername: row.actorUsername,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    outcome: row.outcome as AuditEvent['outcome'],
    statusCode: row.statusCode,
    ip: row.ip,
    requestId: row.requestId,
    details: (row.details ?? {}) as Record<string, unknown>,
  };
}

/** A template with its config. */
export function presentTemplate(row: TemplateRow): Template {
  return { ...presentTemplateSummary(row), config: row.config as LabTemplateConfig };
}

/** A template for lists, without its config. */
export function presentTemplateSummary(row: TemplateRow): TemplateSummary {
  return {
    id: row.id,
    title: row.name,
    description: row.description,
    status: row.status as TemplateStatus,
    version: row.version,
    ownerId: row.ownerId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
