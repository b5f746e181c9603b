import type {
  AuditEvent,
  Lab,
  LabDetail,
  LabStatus,
  LabStep,
  LabTemplateConfig,
  LabVm,
  Template,
  TemplateStatus,
  TemplateSummary,
  User,
} from '@ctp/contracts';
import type { LabNetworkRow, LabStepRow, LabWithOwner, VmRow } from '../repositories/labs.repository.js';
import type { TemplateRow, TemplateSummaryRow } from '../repositories/templates.repository.js';
import type { AuditRow } from '../repositories/audit.repository.js';
import type { UserRow } from '../repositories/users.repository.js';

// Rows shaped for staff (and the audience-free parts: users, audit). What students get is in student.presenter.ts.

/** A user as the API shows it (never the password hash). */
export function presentUser(row: Omit<UserRow, 'passwordHash'>): User {
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

/** A template with its whole config, for staff. */
export function presentTemplate(row: TemplateRow): Template {
  return { audience: 'staff', ...presentTemplateSummary(row), config: row.config as LabTemplateConfig };
}

/** A template for lists, without its config. */
export function presentTemplateSummary(row: TemplateSummaryRow): TemplateSummary {
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

/** A lab as lists show it, with its progress and error. */
export function presentLab(row: LabWithOwner, steps: LabStepRow[], queuePosition: number | null = null): Lab {
  const done = steps.filter((s) => s.status === 'done').length;
  const current = steps.find((s) => s.status === 'running' || s.status === 'failed');
  return {
    id: row.id,
    name: row.name,
    status: row.status as LabStatus,
    ownerId: row.userId,
    ownerUsername: row.ownerUsername,
    templateId: row.templateId,
    templateVersion: row.templateVersion,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    progress: { done, total: steps.length, current: current?.name ?? null },
    error: row.errorMessage ? { step: row.errorStep, message: row.errorMessage } : null,
    queuePosition: row.status === 'queued' ? queuePosition : null,
  };
}

/** A lab with its networks, VMs (driver names never leave), steps and members. */
export function presentLabDetail(
  row: LabWithOwner,
  parts: {
    networks: LabNetworkRow[];
    vms: VmRow[];
    steps: LabStepRow[];
    members: { id: string; username: string }[];
    consoles: ('serial' | 'vnc')[];
    queuePosition?: number | null;
  },
): LabDetail {
  return {
    ...presentLab(row, parts.steps, parts.queuePosition ?? null),
    description: (row.config as LabTemplateConfig).description ?? '',
    networks: parts.networks.map((n) => ({ name: n.name, cidr: n.cidr })),
    vms: parts.vms.map((vm) => ({
      id: vm.id,
      name: vm.name,
      status: vm.status as LabVm['status'],
      addresses: vm.nics as LabVm['addresses'],
      consoles: parts.consoles,
      studentControl: vm.studentControl,
      cpus: vm.cpus,
      memoryMiB: vm.memoryMiB,
    })),
    steps: parts.steps.map((s) => ({
      seq: s.seq,
      name: s.name,
      status: s.status as LabStep['status'],
      startedAt: s.startedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      durationMs: s.startedAt && s.finishedAt ? s.finishedAt.getTime() - s.startedAt.getTime() : null,
      error: s.error,
    })),
    members: parts.members,
  };
}
