import type {
  CreateLabBody,
  Lab,
  LabHost,
  LabDetail,
  LabList,
  LabStatus,
  LabTemplateConfig,
  ListLabsQuery,
  Snapshot,
} from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { AppError, conflict, isUniqueViolation, notFound } from '../errors.js';
import type { LabOperation } from '../labs/lab-operation.js';
import { labPrefix } from '../labs/lab-operation.js';
import { authorize, can, type Actor, type Resource } from '../policy/policy.js';
import { presentLab, presentLabDetail } from '../presenters/staff.presenter.js';
import { presentStudentLab, presentStudentLabDetail } from '../presenters/student.presenter.js';
import type { LabRow, LabStepRow, LabsRepository, LabWithOwner, VmRow } from '../repositories/labs.repository.js';
import type { TemplateRow } from '../repositories/templates.repository.js';
import type { UsersRepository } from '../repositories/users.repository.js';
import type { EventBus } from './event-bus.js';
import type { SessionsService } from './sessions.service.js';
import type { LabAccess } from './lab-access.js';
import type { LabContentDelivery } from './lab-content.js';
import type { TemplateService } from './template.service.js';
import type { AdmissionService } from './admission.service.js';
import type { QuotaService } from './quota.service.js';
import type { Db } from '../db/database.js';

export interface LabLimits {
  /** Longest a lab may live from its creation, extensions included. */
  maxLifetimeMinutes: number;
}

/** What users may ask of a lab. */
export type LabAction = Exclude<LabOperation, 'provision' | 'handover'>;

/** Which states each lab action may start from, and the state it moves the lab to. */
const ACTIONS: Record<LabAction, { from: LabStatus[]; to: LabStatus }> = {
  start: { from: ['stopped'], to: 'starting' },
  stop: { from: ['running'], to: 'stopping' },
  reset: { from: ['running', 'stopped'], to: 'resetting' },
  delete: { from: ['running', 'stopped', 'error'], to: 'deleting' },
};

/** Labs: create from a template, see, act on (as jobs), extend, share; VMs of a lab. */
export class LabService {
  constructor(
    private readonly labs: LabsRepository,
    private readonly users: UsersRepository,
    private readonly templates: TemplateService,
    private readonly driver: HypervisorDriver,
    private readonly events: EventBus,
    private readonly sessions: Pick<SessionsService, 'labChanged'>,
    private readonly enqueue: (labId: string, operation: LabOperation) => Promise<void>,
    private readonly content: LabContentDelivery,
    private readonly limits: LabLimits,
    private readonly access: LabAccess,
    private readonly admission: Pick<
      AdmissionService,
      'assertCouldFit' | 'admit' | 'settings' | 'publishPositions' | 'positions' | 'localHostId'
    >,
    /** When the assignment a lab was started for closes (labs never outlive it). */
    private readonly assignmentClosesAt: (assignmentId: string) => Promise<Date | undefined> = async () => undefined,
    /** Asks for a template's warm pool to be refilled (in the background). */
    private readonly refillPool: (templateId: string) => Promise<void> = async () => {},
    /** A lab's host (id, name, state), or null. */
    private readonly hostOf: (hostId: string | null) => Promise<LabHost | null> = async () => null,
    /** Quotas every new lab must fit in. */
    private readonly quotas: Pick<QuotaService, 'enforce' | 'enforceStart'> = {
      enforce: (_context, _need, create) => create(async () => {}),
      enforceStart: (_actor, _lab, _vms, start) => start(async () => {}),
    },
  ) {}

  /** Creates the lab's records at once and leaves the hypervisor work to a job (202). */
  async create(actor: Actor, body: CreateLabBody): Promise<Lab> {
    authorize(actor, 'lab.create');
    const template = await this.templates.readable(actor, body.templateId);
    return this.createFromTemplate(actor, template);
  }

  /**
   * Creates a lab of `owner` from a template (whether or not they may read it: an assignment gives
   * it to them). `assignment` ties the lab to it: its lifetime, and never past its close.
   */
  async createFromTemplate(
    owner: Actor,
    template: TemplateRow,
    assignment?: { id: string; lifetimeMinutes: number; closesAt: Date },
    /** Whoever asked, when not the owner (an instructor provisioning a class): named in a quota refusal. */
    requestedBy?: Actor,
  ): Promise<Lab> {
    if (template.status === 'archived') throw conflict('This template is archived; labs cannot be started from it');
    const config = template.config as LabTemplateConfig;
    const need = {
      vcpus: config.vms.reduce((n, vm) => n + (vm.cpus ?? 1), 0),
      memoryMiB: config.vms.reduce((n, vm) => n + (vm.memoryMiB ?? 128), 0),
    };
    const context = { owner, requestedBy, assignmentId: assignment?.id ?? null, templateId: template.id };
    const created = await this.quotas.enforce(context, need, async (guard) => {
      await this.admission.assertCouldFit({ cpus: need.vcpus, memoryMiB: need.memoryMiB });
      const now = new Date();
      const lifetime = Math.min(assignment?.lifetimeMinutes ?? config.lifetimeMinutes ?? 120, this.limits.maxLifetimeMinutes);
      // A warm pool serves labs started from the catalog; an assignment's lab is tied to it from its creation.
      const pooled = assignment ? undefined : await this.takePooled(owner, template, lifetime, guard);
      if (pooled) return { pooled, lab: null };
      const expiresAt = new Date(Math.min(Date.now() + lifetime * 60_000, assignment?.closesAt.getTime() ?? Infinity));
      try {
        // Every lab waits its turn: admission starts it at once when the host has room.
        const options = { expiresAt, pool: false, assignmentId: assignment?.id ?? null, queuedAt: now };
        return { pooled: null, lab: await this.insertLab(owner.id, template, options, guard) };
      } catch (error) {
        // labs_assignment_user_key: one live lab per student and assignment, even when two requests race.
        if (assignment && isUniqueViolation(error)) throw conflict(`${owner.username} already has a lab for this assignment`);
        throw error;
      }
    });
    if (created.pooled) return created.pooled;
    const lab = created.lab!;
    // Admitted at once, the lab's first event says `provisioning`; else it says where it waits.
    const admitted = await this.admission.admit();
    // The admin chose refusals over waiting: the lab leaves (it holds nothing) and the caller is told
    // why, unless another instance's admission placed it meanwhile.
    if (
      !admitted.includes(lab.id) &&
      (await this.admission.settings()).queueWhenFull === false &&
      (await this.labs.transition(lab.id, ['queued'], 'deleted', { deletedAt: new Date() }))
    ) {
      await this.publish(lab.id, owner.id, 'lab.status', { status: 'deleted' });
      throw new AppError(503, 'no_capacity', 'No host has room for this lab now, and this platform does not queue labs: try again later');
    }
    const positions = await this.admission.positions();
    if (!admitted.includes(lab.id)) {
      await this.publish(lab.id, owner.id, 'lab.status', { status: 'queued' });
      await this.publish(lab.id, owner.id, 'lab.queued', { status: 'queued', position: positions.get(lab.id) ?? null, of: positions.size });
    }
    const current = (await this.labs.findById(lab.id)) ?? { ...lab, ownerUsername: owner.username };
    return presentLab(current, [], positions.get(lab.id) ?? null);
  }

  /**
   * Provisions a warm pool lab of a template for its pool's owner (no expiry while in the pool;
   * not counted against anyone's limit; seen by staff only). For the pool's refill job.
   */
  async provisionPoolLab(ownerId: string, template: TemplateRow): Promise<string> {
    // Pool labs skip admission (their refill keeps memory in reserve): they live on this process's host.
    const hostId = await this.admission.localHostId();
    const lab = await this.insertLab(ownerId, template, { expiresAt: null, pool: true, assignmentId: null, hostId });
    await this.enqueue(lab.id, 'provision');
    await this.publish(lab.id, ownerId, 'lab.status', { status: 'provisioning' });
    return lab.id;
  }

  /** Starts deleting a pool lab (for the pool's refill job); false when its state does not allow it yet. */
  async deletePoolLab(labId: string): Promise<boolean> {
    const moved = await this.labs.transitionPoolLab(labId, ACTIONS.delete.from, 'deleting');
    if (!moved) return false;
    await this.enqueue(labId, 'delete');
    await this.publish(labId, moved.userId, 'lab.status', { status: 'deleting' });
    return true;
  }

  /**
   * Hands a running pool lab of the template over to the owner at once, if the pool has one: it
   * becomes theirs (its lifetime starts now), and a job then applies its own secrets and content
   * through the guest channel. The pool is refilled in the background either way.
   */
  private async takePooled(
    owner: Actor,
    template: TemplateRow,
    lifetimeMinutes: number,
    guard: (tx: Db) => Promise<void>,
  ): Promise<Lab | undefined> {
    // A pool being emptied (size 0) still hands out what it holds until the refill removes it.
    const now = new Date();
    const row = await this.labs.claimPooled(
      template.id,
      template.version,
      owner.id,
      {
        createdAt: now,
        expiresAt: new Date(now.getTime() + lifetimeMinutes * 60_000),
      },
      guard,
    );
    if (template.warmPoolSize > 0 || row) await this.refillPool(template.id);
    if (!row) return undefined;
    await this.enqueue(row.id, 'handover');
    await this.publish(row.id, owner.id, 'lab.status', { status: row.status });
    return presentLab({ ...row, ownerUsername: owner.username }, []);
  }

  /** The records of a new lab (networks and VMs included) in one transaction. */
  private async insertLab(
    ownerId: string,
    template: TemplateRow,
    // `queuedAt`: the lab waits for admission (pool labs skip it: their refill keeps free memory in reserve).
    options: { expiresAt: Date | null; pool: boolean; assignmentId: string | null; queuedAt?: Date; hostId?: string | null },
    guard?: (tx: Db) => Promise<void>,
  ): Promise<LabRow> {
    const config = template.config as LabTemplateConfig;
    const id = crypto.randomUUID();
    const prefix = labPrefix(id);
    return this.labs.create(
      {
        id,
        name: config.title,
        userId: ownerId,
        templateId: template.id,
        templateVersion: template.version,
        config,
        status: options.queuedAt ? 'queued' : 'provisioning',
        ...(options.queuedAt ? { queuedAt: options.queuedAt, createdAt: options.queuedAt } : {}),
        expiresAt: options.expiresAt,
        pool: options.pool,
        assignmentId: options.assignmentId,
        hostId: options.hostId ?? null,
      },
      config.networks.map((n) => ({ name: n.name, cidr: n.cidr, driverName: `${prefix}-${n.name}` })),
      config.vms.map((vm) => ({
        name: vm.name,
        driverName: `${prefix}-${vm.name}`,
        image: vm.image,
        cpus: vm.cpus ?? 1,
        memoryMiB: vm.memoryMiB ?? 128,
        nics: vm.nics.map((nic) => ({ network: nic.network, address: nic.address ?? null, ...(nic.mac ? { mac: nic.mac } : {}) })),
        studentVisible: vm.studentVisible ?? true,
        studentControl: vm.studentControl ?? true,
        hostId: options.hostId ?? null,
      })),
      guard,
    );
  }

  async list(actor: Actor, query: ListLabsQuery): Promise<LabList> {
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    // `all`: every lab the actor may watch (admins: all; instructors: their students' and their own).
    const wide = query.all === true || query.ownerId !== undefined;
    if (wide) authorize(actor, 'lab.listTaught');
    const everyone = wide && can(actor, 'lab.listAll');
    const { rows, total } = await this.labs.list({
      limit,
      offset,
      visibleTo: wide ? undefined : actor.id,
      watchedBy: wide && !everyone ? actor.id : undefined,
      status: query.status,
      ownerId: query.ownerId,
      templateId: query.templateId,
      includeDeleted: query.includeDeleted,
    });
    const positions = rows.some((r) => r.status === 'queued') ? await this.admission.positions() : new Map<string, number>();
    const items = await Promise.all(
      rows.map(async (row) => this.presentFor(actor, row, await this.labs.stepsOf(row.id), positions.get(row.id) ?? null)),
    );
    return { items, total, limit, offset };
  }

  async get(actor: Actor, id: string): Promise<LabDetail> {
    const lab = await this.visibleLab(actor, id);
    const staff = can(actor, 'lab.readConfig', await this.resourceOf(lab));
    const [networks, machines, steps, members, host] = await Promise.all([
      this.labs.networksOf(id),
      this.labs.vmsOf(id),
      this.labs.stepsOf(id),
      this.labs.membersOf(id),
      this.hostOf(lab.hostId),
    ]);
    const consoles = (await this.driver.probe()).capabilities.consoles;
    const queuePosition = lab.status === 'queued' ? ((await this.admission.positions()).get(id) ?? null) : null;
    const parts = { networks, vms: machines, steps, members, consoles, queuePosition, host };
    return staff ? presentLabDetail(lab, parts) : presentStudentLabDetail(lab, parts);
  }

  /** Starts a lab action (start, stop, reset, delete) as a job; 409 when the lab's state forbids it. */
  async act(actor: Actor, id: string, operation: LabAction): Promise<Lab> {
    const lab = await this.visibleLab(actor, id);
    authorize(actor, operation === 'delete' ? 'lab.delete' : 'lab.operate', await this.resourceOf(lab));
    if (operation === 'delete' && lab.status === 'queued') return this.dequeue(lab);
    const { from, to } = ACTIONS[operation];
    // A stopped lab's VMs hold none of its owner's quota until they start: the start is checked like a new lab.
    const checked = operation === 'start' && lab.status === 'stopped' && !lab.pool;
    const moved = checked
      ? await this.quotas.enforceStart(actor, lab, await this.labs.vmsOf(id), (guard) => this.labs.transition(id, from, to, {}, guard))
      : await this.labs.transition(id, from, to);
    if (!moved)
      throw conflict(`Cannot ${operation} a lab that is ${lab.status}${from.length ? ` (allowed when ${from.join(' or ')})` : ''}`);
    await this.enqueue(id, operation);
    // Consoles of a lab being deleted close on every instance.
    if (operation === 'delete') await this.sessions.labChanged(id);
    await this.publish(id, lab.userId, 'lab.status', { status: to });
    return presentLab({ ...moved, ownerUsername: lab.ownerUsername }, []);
  }

  /** A queued lab is deleted at once (it holds nothing on the hypervisor); those behind it move up. */
  private async dequeue(lab: LabWithOwner): Promise<Lab> {
    const moved = await this.labs.transition(lab.id, ['queued'], 'deleted', { deletedAt: new Date() });
    if (!moved) throw conflict('The lab left the queue meanwhile; try again');
    await this.publish(lab.id, lab.userId, 'lab.status', { status: 'deleted' });
    await this.admission.publishPositions();
    return presentLab({ ...moved, ownerUsername: lab.ownerUsername }, []);
  }

  /** Pushes the expiry back, within the lab's longest allowed lifetime. */
  async extend(actor: Actor, id: string, minutes: number): Promise<Lab> {
    const lab = await this.visibleLab(actor, id);
    authorize(actor, 'lab.operate', await this.resourceOf(lab));
    if (lab.status === 'deleted' || lab.status === 'deleting') throw conflict(`Cannot extend a lab that is ${lab.status}`);
    const closesAt = lab.assignmentId ? await this.assignmentClosesAt(lab.assignmentId) : undefined;
    const latest = Math.min(lab.createdAt.getTime() + this.limits.maxLifetimeMinutes * 60_000, closesAt?.getTime() ?? Infinity);
    const wanted = Math.max(lab.expiresAt?.getTime() ?? Date.now(), Date.now()) + minutes * 60_000;
    if (wanted > latest) {
      throw conflict(
        closesAt && latest === closesAt.getTime()
          ? `The assignment closes at ${closesAt.toISOString()}; its lab cannot be extended past that`
          : `A lab may live at most ${this.limits.maxLifetimeMinutes} minutes; it can be extended until ${new Date(latest).toISOString()}`,
      );
    }
    const updated = await this.labs.update(id, { expiresAt: new Date(wanted), expiryWarnedAt: null });
    await this.publish(id, lab.userId, 'lab.extended', { expiresAt: new Date(wanted).toISOString() });
    return this.presentFor(actor, { ...updated!, ownerUsername: lab.ownerUsername }, await this.labs.stepsOf(id));
  }

  async addMember(actor: Actor, id: string, userId: string): Promise<LabDetail> {
    const lab = await this.visibleLab(actor, id);
    authorize(actor, 'lab.manageMembers', await this.resourceOf(lab));
    if (lab.status === 'deleting' || lab.status === 'deleted') throw conflict(`The lab is ${lab.status}; it takes no new members`);
    const user = await this.users.findById(userId);
    if (!user || user.disabled) throw notFound('User');
    if (user.id === lab.userId) throw conflict('The owner is already in the lab');
    await this.labs.addMember(id, userId);
    return this.get(actor, id);
  }

  async removeMember(actor: Actor, id: string, userId: string): Promise<LabDetail> {
    const lab = await this.visibleLab(actor, id);
    authorize(actor, 'lab.manageMembers', await this.resourceOf(lab));
    if (!(await this.labs.removeMember(id, userId))) throw notFound('Member');
    // The removed member's open consoles and event streams of this lab close on every instance.
    await this.sessions.labChanged(id);
    return this.get(actor, id);
  }

  /** A VM action done right away (the hypervisor answers in well under a second, stop in at most a few). */
  async vmAction(actor: Actor, vmId: string, action: 'start' | 'stop' | 'reboot'): Promise<void> {
    const { vm, lab } = await this.controllableVm(actor, vmId);
    // A stopped lab holds no vCPUs or memory of its owner's quota: only the lab's start (which checks it) runs its VMs again.
    if (action !== 'stop' && lab.status === 'stopped') throw conflict(`The lab is stopped: start the lab to ${action} its VMs`);
    if (action === 'start') await this.driver.startVm(vm.driverName);
    if (action === 'stop') await this.driver.stopVm(vm.driverName, { timeoutMs: 3000 });
    if (action === 'reboot') await this.driver.rebootVm(vm.driverName);
    // A booted guest has lost what was written into it: deliver the lab's files again.
    if (action !== 'stop') await this.content.deliverLabContent(lab, vm);
    const status = action === 'stop' ? 'stopped' : 'running';
    await this.labs.setVmStatus(vm.id, status);
    await this.publish(lab.id, lab.userId, 'vm.status', { vmId: vm.id, name: vm.name, status });
  }

  async listSnapshots(actor: Actor, vmId: string): Promise<Snapshot[]> {
    const { vm } = await this.visibleVm(actor, vmId);
    const snapshots = await this.driver.listSnapshots(vm.driverName);
    return snapshots.map((s) => ({ name: s.name, createdAt: s.createdAt.toISOString(), withMemory: s.withMemory }));
  }

  async takeSnapshot(actor: Actor, vmId: string, name: string): Promise<Snapshot> {
    const { vm } = await this.controllableVm(actor, vmId);
    const existing = await this.driver.listSnapshots(vm.driverName);
    if (existing.some((s) => s.name === name)) throw conflict(`Snapshot "${name}" already exists`);
    const s = await this.driver.takeSnapshot(vm.driverName, name);
    return { name: s.name, createdAt: s.createdAt.toISOString(), withMemory: s.withMemory };
  }

  async revertSnapshot(actor: Actor, vmId: string, name: string): Promise<void> {
    const { vm, lab } = await this.controllableVm(actor, vmId);
    const existing = await this.driver.listSnapshots(vm.driverName);
    if (!existing.some((s) => s.name === name)) throw notFound(`Snapshot "${name}"`);
    await this.driver.revertSnapshot(vm.driverName, name);
    const state = (await this.driver.getVm(vm.driverName))?.state ?? 'stopped';
    if (state === 'running') await this.content.deliverLabContent(lab, vm);
    await this.labs.setVmStatus(vm.id, state);
    await this.publish(lab.id, lab.userId, 'vm.status', { vmId: vm.id, name: vm.name, status: state });
  }

  /** A lab for lists, as the actor's audience sees it. */
  private async presentFor(actor: Actor, row: LabWithOwner, steps: LabStepRow[], queuePosition: number | null = null): Promise<Lab> {
    if (can(actor, 'lab.readConfig', await this.resourceOf(row))) return presentLab(row, steps, queuePosition);
    const hidden = (await this.labs.vmsOf(row.id)).filter((vm) => !vm.studentVisible).map((vm) => vm.name);
    return presentStudentLab(row, steps, hidden, queuePosition);
  }

  /** The lab if the actor may see it; 404 otherwise, so other students' labs stay unseen. */
  private async visibleLab(actor: Actor, id: string): Promise<LabWithOwner> {
    const lab = await this.labs.findById(id);
    if (!lab || !can(actor, 'lab.read', await this.resourceOf(lab))) throw notFound('Lab');
    return lab;
  }

  private async visibleVm(actor: Actor, vmId: string): Promise<{ vm: VmRow; lab: LabWithOwner }> {
    const vm = await this.labs.findVm(vmId);
    if (!vm) throw notFound('VM');
    const lab = await this.visibleLab(actor, vm.labId).catch(() => {
      throw notFound('VM');
    });
    if (!vm.studentVisible && !can(actor, 'vm.seeHidden', await this.resourceOf(lab))) throw notFound('VM');
    return { vm, lab };
  }

  private async controllableVm(actor: Actor, vmId: string): Promise<{ vm: VmRow; lab: LabWithOwner }> {
    const found = await this.visibleVm(actor, vmId);
    authorize(actor, 'vm.operate', { ...(await this.resourceOf(found.lab)), controllable: found.vm.studentControl });
    if (!['running', 'stopped'].includes(found.lab.status))
      throw conflict(`The lab is ${found.lab.status}; wait until it is running or stopped`);
    return found;
  }

  private async resourceOf(lab: LabWithOwner): Promise<Resource> {
    return this.access.resourceOf(lab);
  }

  private async publish(labId: string, ownerId: string, type: string, data: Record<string, unknown>): Promise<void> {
    await this.events.publish(labId, type, data, { ownerId, memberIds: await this.labs.memberIds(labId) });
  }
}
