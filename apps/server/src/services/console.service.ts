import type { Duplex } from 'node:stream';
import type { ConsoleKind, ConsoleTicket } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { AppError, conflict, notFound } from '../errors.js';
import { can, type Actor } from '../policy/policy.js';
import type { LabsRepository, LabWithOwner, VmRow } from '../repositories/labs.repository.js';
import type { AuditService } from './audit.service.js';
import type { EventBus } from './event-bus.js';
import type { LabAccess } from './lab-access.js';
import type { SessionsService } from './sessions.service.js';
import type { TicketHolder, TicketService } from './ticket.service.js';

export interface ConsoleLimits {
  sessionsPerUser: number;
  sessionsPerVm: number;
}

/** A redeemed ticket with the access it gives: what `start` needs once the socket is open. */
export interface ConsoleGrant {
  holder: TicketHolder;
  vm: VmRow;
  lab: LabWithOwner;
  readOnly: boolean;
  kind: ConsoleKind;
}

export interface ConsoleSession {
  stream: Duplex;
  readOnly: boolean;
  /** Ends the session: closes the stream, frees the slot, records the end. */
  close(reason: string): Promise<void>;
}

/**
 * Consoles of VMs: tickets bound to user, VM and kind; sessions bridged to the driver's console
 * stream, limited per user and per VM, each one an audit event from start to end. Staff who are
 * not in the lab watch read-only, and the lab's users are told that someone watches.
 */
export class ConsoleService {
  private readonly perUser = new Map<string, number>();
  private readonly perVm = new Map<string, number>();

  constructor(
    private readonly labs: LabsRepository,
    private readonly driver: HypervisorDriver,
    private readonly tickets: TicketService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    private readonly sessions: SessionsService,
    private readonly limits: ConsoleLimits,
    private readonly labAccess: LabAccess,
  ) {}

  /** Issues a single-use ticket for a VM's console, if the actor may open it. */
  async issueTicket(actor: Actor, vmId: string, kind: ConsoleKind): Promise<ConsoleTicket> {
    const { vm, readOnly } = await this.access(actor, vmId);
    const consoles = (await this.driver.probe()).capabilities.consoles;
    if (!consoles.includes(kind)) throw new AppError(409, 'console_unavailable', `This hypervisor offers no ${kind} console`);
    const { ticket, expiresIn } = await this.tickets.issue(actor, `console-${kind}`, vm.id);
    return { ticket, expiresIn, readOnly, url: `/api/v1/vms/${vm.id}/console/${kind}?ticket=${encodeURIComponent(ticket)}` };
  }

  /**
   * Redeems a ticket and checks access and limits, before the WebSocket upgrade (so refusals
   * are plain HTTP). Takes no slot: only `start`, on an open socket, does.
   */
  async authorize(ticket: string | undefined, vmId: string, kind: ConsoleKind): Promise<ConsoleGrant> {
    const holder = await this.tickets.redeem(ticket, `console-${kind}`, vmId);
    const { vm, lab, readOnly } = await this.access(holder, vmId);
    this.checkLimits(holder.id, vm.id);
    return { holder, vm, lab, readOnly, kind };
  }

  /**
   * Opens the console stream for a granted, open WebSocket: takes a slot (given back by
   * `close`, or at once when opening fails) and watches the user's access, calling `revoked`
   * when it is lost (user disabled, sessions ended, removed from the lab, lab deleted).
   */
  async start(
    grant: ConsoleGrant,
    meta: { ip: string; requestId: string },
    revoked: (code: number, reason: string) => void,
  ): Promise<ConsoleSession> {
    const { holder: actor, vm, lab, readOnly, kind } = grant;
    this.checkLimits(actor.id, vm.id);
    this.bump(this.perUser, actor.id, 1);
    this.bump(this.perVm, vm.id, 1);
    let stream: Duplex;
    try {
      stream = await this.driver.openConsole(vm.driverName, kind);
    } catch (error) {
      this.bump(this.perUser, actor.id, -1);
      this.bump(this.perVm, vm.id, -1);
      throw error;
    }
    let closed = false;
    const unwatch = this.sessions.watch({
      userId: actor.id,
      epoch: actor.epoch,
      recheck: async (user, labId) => {
        if (labId !== undefined && labId !== lab.id) return true;
        const now: Actor = { id: user.id, username: user.username, role: user.role as Actor['role'] };
        return this.access(now, vm.id).then(
          (access) => access.readOnly === readOnly,
          () => false,
        );
      },
      close: (code, reason) => revoked(code, reason),
    });
    const started = Date.now();
    const base = { actor, targetType: 'vm', targetId: vm.id, ip: meta.ip, requestId: meta.requestId };
    const close = async (reason: string) => {
      if (closed) return;
      closed = true;
      unwatch();
      stream.destroy();
      this.bump(this.perUser, actor.id, -1);
      this.bump(this.perVm, vm.id, -1);
      await this.audit.record({
        ...base,
        action: 'console.close',
        outcome: 'success',
        details: { kind, readOnly, reason, seconds: Math.round((Date.now() - started) / 1000) },
      });
      if (readOnly) await this.announce(lab.id, lab.userId, vm, actor, kind, false);
    };
    try {
      await this.audit.record({ ...base, action: 'console.open', outcome: 'success', details: { kind, readOnly, labId: lab.id } });
      if (readOnly) await this.announce(lab.id, lab.userId, vm, actor, kind, true);
    } catch (error) {
      await close('failed to open');
      throw error;
    }
    return { stream, readOnly, close };
  }

  /** Sessions open on this instance for a VM (tests and diagnostics). */
  openSessions(vmId: string): number {
    return this.perVm.get(vmId) ?? 0;
  }

  private checkLimits(userId: string, vmId: string): void {
    if ((this.perUser.get(userId) ?? 0) >= this.limits.sessionsPerUser) {
      throw new AppError(429, 'too_many_consoles', `You have ${this.limits.sessionsPerUser} consoles open already; close one first`);
    }
    if ((this.perVm.get(vmId) ?? 0) >= this.limits.sessionsPerVm) {
      throw new AppError(429, 'too_many_consoles', `This VM has ${this.limits.sessionsPerVm} consoles open already`);
    }
  }

  private async access(actor: Actor, vmId: string) {
    const vm = await this.labs.findVm(vmId);
    if (!vm) throw notFound('VM');
    const lab = await this.labs.findById(vm.labId);
    if (!lab) throw notFound('VM');
    const resource = await this.labAccess.resourceOf(lab);
    const inLab = lab.userId === actor.id || (resource.memberIds ?? []).includes(actor.id);
    const staff = can(actor, 'lab.watchConsole', resource);
    if ((!inLab && !staff) || (!vm.studentVisible && !can(actor, 'vm.seeHidden', resource))) throw notFound('VM');
    if (!['running', 'stopped'].includes(lab.status)) throw conflict(`The lab is ${lab.status}`);
    return { vm, lab, readOnly: !inLab };
  }

  private async announce(labId: string, ownerId: string, vm: VmRow, watcher: Actor, kind: ConsoleKind, watching: boolean): Promise<void> {
    await this.events.publish(
      labId,
      'console.watching',
      { vmId: vm.id, vm: vm.name, kind, watcher: watcher.username, watching },
      { ownerId, memberIds: await this.labs.memberIds(labId) },
    );
  }

  private bump(map: Map<string, number>, key: string, by: number): void {
    const next = (map.get(key) ?? 0) + by;
    if (next <= 0) map.delete(key);
    else map.set(key, next);
  }
}
