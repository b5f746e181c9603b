import type { Duplex } from 'node:stream';
import type { ConsoleKind, ConsoleTicket } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { AppError, notFound } from '../errors.js';
import type { Actor } from '../policy/policy.js';
import type { LabsRepository, LabWithOwner, VmRow } from '../repositories/labs.repository.js';
import type { AuditService } from './audit.service.js';
import { concernsSession, consoleAccess, ConsoleSlots, endedByRevocation, type ConsoleLimits } from './console-rules.js';
import type { EventBus } from './event-bus.js';
import type { LabAccess } from './lab-access.js';
import { CLOSE_ACCESS_REVOKED, type SessionsService } from './sessions.service.js';
import type { TicketHolder, TicketService } from './ticket.service.js';

export type { ConsoleLimits } from './console-rules.js';

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
  /** The close code and reason for a stream the VM ended: revoked access when its lab is going. */
  ending(): Promise<{ code: number; reason: string }>;
}

/**
 * Consoles of VMs: tickets bound to user, VM and kind; sessions bridged to the driver's console
 * stream, limited per user and per VM, each one an audit event from start to end. Staff who are
 * not in the lab watch read-only, and the lab's users are told that someone watches.
 */
export class ConsoleService {
  private readonly slots: ConsoleSlots;

  constructor(
    private readonly labs: LabsRepository,
    private readonly driver: HypervisorDriver,
    private readonly tickets: TicketService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    private readonly sessions: SessionsService,
    limits: ConsoleLimits,
    private readonly labAccess: LabAccess,
  ) {
    this.slots = new ConsoleSlots(limits);
  }

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
    this.slots.check(holder.id, vm.id);
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
    this.slots.take(actor.id, vm.id);
    let stream: Duplex;
    try {
      stream = await this.driver.openConsole(vm.driverName, kind);
    } catch (error) {
      this.slots.release(actor.id, vm.id);
      throw error;
    }
    let closed = false;
    const unwatch = this.sessions.watch({
      userId: actor.id,
      epoch: actor.epoch,
      recheck: async (user, labId) => {
        if (!concernsSession(labId, lab.id)) return true;
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
      this.slots.release(actor.id, vm.id);
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
    return { stream, readOnly, close, ending: () => this.ending(actor, vm.id) };
  }

  // A deleted lab's VMs are destroyed right after the revocation is announced, so their streams
  // may end before the announcement's re-check closes the socket: the code must not depend on that race.
  private async ending(actor: Actor, vmId: string): Promise<{ code: number; reason: string }> {
    const vm = await this.labs.findVm(vmId);
    const lab = vm && (await this.labs.findById(vm.labId));
    const target = vm && lab ? { vm, lab, resource: await this.labAccess.resourceOf(lab) } : undefined;
    return endedByRevocation(actor, target)
      ? { code: CLOSE_ACCESS_REVOKED, reason: 'access revoked' }
      : { code: 1000, reason: 'console closed by the VM' };
  }

  /** Sessions open on this instance for a VM (tests and diagnostics). */
  openSessions(vmId: string): number {
    return this.slots.forVm(vmId);
  }

  private async access(actor: Actor, vmId: string) {
    const vm = await this.labs.findVm(vmId);
    if (!vm) throw notFound('VM');
    const lab = await this.labs.findById(vm.labId);
    if (!lab) throw notFound('VM');
    const { readOnly } = consoleAccess(actor, { lab, resource: await this.labAccess.resourceOf(lab), vm });
    return { vm, lab, readOnly };
  }

  private async announce(labId: string, ownerId: string, vm: VmRow, watcher: Actor, kind: ConsoleKind, watching: boolean): Promise<void> {
    await this.events.publish(
      labId,
      'console.watching',
      { vmId: vm.id, vm: vm.name, kind, watcher: watcher.username, watching },
      { ownerId, memberIds: await this.labs.memberIds(labId) },
    );
  }
}
