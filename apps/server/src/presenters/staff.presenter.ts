import type {
  AuditEvent,
  Image,
  Lab,
  LabDetail,
  LabHost,
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
import type { ImageRow } from '../repositories/images.repository.js';
import type { BuiltinImage } from '../services/image-catalog.js';
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
    ...(row.pool ? { pool: true } : {}),
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
    /** The lab's host (null while it has none). */
    host?: LabHost | null;
  },
): LabDetail {
  return {
    ...presentLab(row, parts.steps, parts.queuePosition ?? null),
    hostUnreachable: parts.host?.state === 'down',
    host: parts.host ?? null,
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
      // Given to the lab's users (only they and staff may read a lab), never logged.
      credentials: (vm.credentials as LabVm['credentials'] | null) ?? null,
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

type ImageUsage = Image['usedBy'];

/** A library image as staff see it (file paths on the host never leave). */
export function presentImage(row: ImageRow, usedBy: ImageUsage): Image {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as Image['kind'],
    sourceFormat: row.sourceFormat as Image['sourceFormat'],
    status: row.status as Image['status'],
    progress: row.progress,
    error: row.error,
    builtin: false,
    osFamily: row.osFamily,
    firmware: row.firmware as Image['firmware'],
    defaultCpus: row.defaultCpus,
    defaultMemoryMiB: row.defaultMemoryMiB,
    defaultNics: row.defaultNics,
    configMethod: row.configMethod as Image['configMethod'],
    defaultUser: row.defaultUser,
    notes: row.notes,
    sizeBytes: row.sizeBytes,
    virtualSizeBytes: row.virtualSizeBytes,
    sha256: row.sha256,
    usedBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A built-in demo image, in the same shape. */
export function presentBuiltinImage(image: BuiltinImage, usedBy: ImageUsage): Image {
  const epoch = new Date(0).toISOString();
  return {
    id: image.id,
    name: image.name,
    kind: image.base.kind === 'kernel' ? 'kernel' : 'disk',
    sourceFormat: image.base.kind === 'kernel' ? 'kernel' : 'qcow2',
    status: 'ready',
    progress: 100,
    error: null,
    builtin: true,
    osFamily: image.osFamily,
    firmware: image.firmware,
    defaultCpus: image.defaultCpus,
    defaultMemoryMiB: image.defaultMemoryMiB,
    defaultNics: null,
    configMethod: image.configMethod,
    defaultUser: image.defaultUser,
    notes: image.notes,
    sizeBytes: 0,
    virtualSizeBytes: null,
    sha256: null,
    usedBy,
    createdAt: epoch,
    updatedAt: epoch,
  };
}
