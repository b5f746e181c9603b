import { ROLES, type MyQuota, type Quota, type QuotaList, type QuotaScope, type SetQuotaBody } from '@ctp/contracts';
import type { Db } from '../db/database.js';
import { badRequest, notFound, QuotaExceededError, type QuotaRefusal } from '../errors.js';
import { authorize, can, type Actor } from '../policy/policy.js';
import type { ClassesRepository } from '../repositories/classes.repository.js';
import type { QuotaLimits, QuotaRow, QuotasRepository, QuotaUse } from '../repositories/quotas.repository.js';
import type { UsersRepository } from '../repositories/users.repository.js';
import type { AuditService } from './audit.service.js';

type Field = keyof QuotaLimits;
const FIELDS: Field[] = ['maxLabs', 'maxVcpus', 'maxMemoryMiB'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a new lab will hold (or a stopped lab, once started again). */
export interface LabNeed {
  vcpus: number;
  memoryMiB: number;
  /** Labs it adds: 1 for a new lab (the default), 0 for a stopped lab being started (it already counts). */
  labs?: 0 | 1;
}

/** Who a lab is for and why: the quota check's context. */
export interface QuotaContext {
  owner: Actor;
  /** Whoever asked, when not the owner (an instructor provisioning a class). */
  requestedBy?: Actor;
  /** The assignment the lab is for: its class's quota applies too. */
  assignmentId?: string | null;
  templateId: string | null;
  /** The stopped lab being started again (absent for a new lab). */
  labId?: string;
}

export interface QuotaDefaults {
  /** Concurrent labs of a user no quota row limits (`CTP_MAX_LABS_PER_USER`; ×10 with `lab.quotaExempt`). */
  maxLabsPerUser: number;
}

/** One limit that applies, and where it comes from. */
interface Limit {
  value: number;
  scope: QuotaRefusal['scope'];
  subject: string;
}

const toQuota = (row: QuotaRow & { subjectName: string }): Quota => ({
  scope: row.scope as QuotaScope,
  subject: row.subject,
  subjectName: row.subjectName,
  maxLabs: row.maxLabs,
  maxVcpus: row.maxVcpus,
  maxMemoryMiB: row.maxMemoryMiB,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
});

/**
 * Quotas: what admins set (per role, user, class) and the check every new lab passes. For each
 * limit the user's own row wins over their role's; a null limit in a row falls through to the next
 * (user → role → default), and only concurrent labs have a default (`CTP_MAX_LABS_PER_USER`). A
 * class quota applies on top, per student, to the labs of that class's assignments.
 */
export class QuotaService {
  constructor(
    private readonly quotas: QuotasRepository,
    private readonly users: UsersRepository,
    private readonly classes: ClassesRepository,
    private readonly audit: AuditService,
    private readonly defaults: QuotaDefaults,
  ) {}

  async list(actor: Actor): Promise<QuotaList> {
    authorize(actor, 'quota.manage');
    return { items: (await this.quotas.list()).map(toQuota) };
  }

  /** Creates or changes a quota; the subject must exist (a user may be named by id or username). */
  async set(actor: Actor, scope: QuotaScope, subject: string, body: SetQuotaBody): Promise<Quota> {
    authorize(actor, 'quota.manage');
    const { id, name } = await this.resolveSubject(scope, subject);
    const limits = Object.fromEntries(FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]])) as Partial<QuotaLimits>;
    const row = await this.quotas.upsert(scope, id, limits);
    return toQuota({ ...row, subjectName: name });
  }

  async remove(actor: Actor, scope: QuotaScope, subject: string): Promise<void> {
    authorize(actor, 'quota.manage');
    const { id } = await this.resolveSubject(scope, subject, false);
    if (!(await this.quotas.remove(scope, id))) throw notFound(`Quota for ${scope} ${subject}`);
  }

  /** The actor's own effective limits and use (never anyone else's). */
  async mine(actor: Actor): Promise<MyQuota> {
    const rows = await this.quotas.applicable(actor.id, actor.role, null);
    const effective = (field: Field) => {
      const limit = this.limitOf(actor, rows, field);
      const source: MyQuota['maxLabs']['source'] = !limit || limit.scope === 'class' ? 'none' : limit.scope;
      return { limit: limit?.value ?? null, source };
    };
    const classes = await Promise.all(
      (await this.quotas.classQuotasOf(actor.id)).map(async (row) => ({
        classId: row.subject,
        className: row.className,
        maxLabs: row.maxLabs,
        maxVcpus: row.maxVcpus,
        maxMemoryMiB: row.maxMemoryMiB,
        used: await this.quotas.useOf(actor.id, row.subject),
      })),
    );
    return {
      maxLabs: effective('maxLabs'),
      maxVcpus: effective('maxVcpus'),
      maxMemoryMiB: effective('maxMemoryMiB'),
      used: await this.quotas.useOf(actor.id),
      classes,
    };
  }

  /**
   * Runs `create` (which writes the lab, or moves a stopped one to `starting`) only within every
   * quota: checked once up front, and again by `guard` inside the write's transaction under a
   * per-user lock, so concurrent creates or starts of one user never pass together. A refusal
   * (429 `quota_exceeded`) leaves an audit event.
   */
  async enforce<T>(context: QuotaContext, need: LabNeed, create: (guard: (tx: Db) => Promise<void>) => Promise<T>): Promise<T> {
    const classId = context.assignmentId ? ((await this.quotas.classOfAssignment(context.assignmentId)) ?? null) : null;
    try {
      await this.check(context, need, classId, undefined);
      return await create(async (tx) => {
        await this.quotas.lockUser(tx, context.owner.id);
        await this.check(context, need, classId, tx);
      });
    } catch (error) {
      if (error instanceof QuotaExceededError) {
        await this.audit.record({
          actor: context.requestedBy ?? context.owner,
          action: 'lab.quota_exceeded',
          targetType: 'user',
          targetId: context.owner.id,
          outcome: 'denied',
          statusCode: 429,
          details: {
            owner: context.owner.username,
            templateId: context.templateId,
            assignmentId: context.assignmentId ?? null,
            ...(context.labId ? { labId: context.labId, operation: 'start' } : {}),
            quota: error.quota,
          },
        });
      }
      throw error;
    }
  }

  /**
   * Runs `start` (which moves a stopped lab to `starting`) only within its owner's quotas, as
   * `enforce` does for a new lab: the lab already counts as a lab, its VMs' vCPUs and memory are
   * what it asks for. Whoever asks (staff for a student) is named in a refusal.
   */
  async enforceStart<T>(
    actor: Actor,
    lab: { id: string; userId: string; assignmentId: string | null; templateId: string | null },
    machines: { cpus: number; memoryMiB: number }[],
    start: (guard: (tx: Db) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const owner = await this.users.findById(lab.userId);
    if (!owner) return start(async () => {});
    const need = {
      vcpus: machines.reduce((n, vm) => n + vm.cpus, 0),
      memoryMiB: machines.reduce((n, vm) => n + vm.memoryMiB, 0),
      labs: 0 as const,
    };
    const context = {
      owner: { id: owner.id, username: owner.username, role: owner.role as Actor['role'] },
      requestedBy: actor,
      assignmentId: lab.assignmentId,
      templateId: lab.templateId,
      labId: lab.id,
    };
    return this.enforce(context, need, start);
  }

  private async check(context: QuotaContext, need: LabNeed, classId: string | null, tx: Db | undefined): Promise<void> {
    const { owner } = context;
    const rows = await this.quotas.applicable(owner.id, owner.role, classId, tx);
    const use = await this.quotas.useOf(owner.id, null, tx);
    const self = !context.requestedBy || context.requestedBy.id === owner.id;
    for (const field of FIELDS) {
      const limit = this.limitOf(owner, rows, field);
      if (limit) refuseOver(limit, field, use, need, self ? 'you have' : `${owner.username} has`);
    }
    const classRow = classId ? rows.find((r) => r.scope === 'class') : undefined;
    if (!classRow) return;
    const classUse = await this.quotas.useOf(owner.id, classId, tx);
    // Inside the transaction every query must use `tx` (PGlite has one connection).
    const className = (await this.quotas.classNameOf(classRow.subject, tx)) ?? classRow.subject;
    for (const field of FIELDS) {
      const value = classRow[field];
      if (value !== null)
        refuseOver({ value, scope: 'class', subject: className }, field, classUse, need, self ? 'you have' : `${owner.username} has`);
    }
  }

  /** The limit of one field for a user: their own row, else their role's, else the default. */
  private limitOf(owner: Actor, rows: QuotaRow[], field: Field): Limit | undefined {
    const user = rows.find((r) => r.scope === 'user' && r.subject === owner.id);
    if (user?.[field] != null) return { value: user[field], scope: 'user', subject: owner.username };
    const role = rows.find((r) => r.scope === 'role' && r.subject === owner.role);
    if (role?.[field] != null) return { value: role[field], scope: 'role', subject: owner.role };
    if (field !== 'maxLabs') return undefined;
    const value = can(owner, 'lab.quotaExempt') ? this.defaults.maxLabsPerUser * 10 : this.defaults.maxLabsPerUser;
    return { value, scope: 'default', subject: 'CTP_MAX_LABS_PER_USER' };
  }

  /** The stored id of a quota's subject and a name to show; 404/400 when it does not exist. */
  private async resolveSubject(scope: QuotaScope, subject: string, mustExist = true): Promise<{ id: string; name: string }> {
    if (scope === 'role') {
      if (!(ROLES as readonly string[]).includes(subject))
        throw badRequest(`Unknown role "${subject}"`, [{ field: 'params.subject', message: `must be one of ${ROLES.join(', ')}` }]);
      return { id: subject, name: subject };
    }
    if (scope === 'user') {
      const user = UUID.test(subject) ? await this.users.findById(subject) : await this.users.findByUsername(subject);
      if (user) return { id: user.id, name: user.username };
      if (!mustExist && UUID.test(subject)) return { id: subject.toLowerCase(), name: subject };
      throw notFound(`User ${subject}`);
    }
    if (!UUID.test(subject))
      throw badRequest('A class quota is named by the class id', [{ field: 'params.subject', message: 'must be a class id (uuid)' }]);
    const klass = await this.classes.findById(subject);
    if (klass) return { id: klass.id, name: klass.name };
    if (!mustExist) return { id: subject.toLowerCase(), name: subject };
    throw notFound(`Class ${subject}`);
  }
}

const NAMES: Record<QuotaRefusal['scope'], string> = { role: 'role', user: 'user', class: 'class', default: 'the default limit' };

/** Throws 429 when the use plus the new lab's need would pass the limit. */
function refuseOver(limit: Limit, field: Field, use: QuotaUse, need: LabNeed, have: string): void {
  const used = field === 'maxLabs' ? use.labs : field === 'maxVcpus' ? use.vcpus : use.memoryMiB;
  const requested = field === 'maxLabs' ? (need.labs ?? 1) : field === 'maxVcpus' ? need.vcpus : need.memoryMiB;
  if (used + requested <= limit.value) return;
  const who = limit.scope === 'default' ? `${NAMES.default} (${limit.subject})` : `${NAMES[limit.scope]} ${limit.subject}`;
  const where = limit.scope === 'class' ? ' in it' : '';
  const what =
    field === 'maxLabs'
      ? `${limit.value} concurrent lab${limit.value === 1 ? '' : 's'}${limit.scope === 'class' ? ' per student' : ''}; ${have} ${used}${where}`
      : field === 'maxVcpus'
        ? `${limit.value} vCPUs at once; ${have} ${used}${where} and this lab needs ${requested}`
        : `${limit.value} MiB of memory at once; ${have} ${used} MiB${where} and this lab needs ${requested} MiB`;
  throw new QuotaExceededError(`Quota exceeded: ${who} allows ${what}`, {
    scope: limit.scope,
    subject: limit.subject,
    field,
    limit: limit.value,
    used,
    requested,
  });
}
