import type { Duplex } from 'node:stream';
import type { ConsoleKind, ConsoleTicket } from '@ctp/contracts';
import type { HypervisorDriver } from '@ctp/hypervisor';
import { AppError, conflict, notFound } from '../errors.js';
import { can, type Actor } from '../policy/policy.js';
import type { LabsRepository, VmRow } from '../repositories/labs.repository.js';
import type { AuditService } from './audit.service.js';
import type { EventBus } from './event-bus.js';
import type { TicketService } from './ticket.service.js';

export interface ConsoleLimits {
  sessionsPerUser: number;
  sessionsPerVm: number;
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
    private readonly limits: ConsoleLimits,
  ) {}

  /** Issues a single-use ticket for a VM's console, if the actor may open it. */
  async issueTicket(actor: Actor, vmId: string, kind: ConsoleKind): Promise<ConsoleTicket> {
    const { vm, readOnly } = await this.access(actor, vmId);
    const consoles = (await this.driver.probe()).capabilities.consoles;
    if (!consoles.includes(kind)) throw new AppError(409, 'console_unavailable', `This hypervisor offers no ${kind} console`);
    const { ticket, expiresIn } = await this.tickets.issue(actor, `console-${kind}`, vm.id);
    return { ticket, expiresIn, readOnly, url: `/api/v1/vms/${vm.id}/console/${kind}?ticket=${encodeURIComponent(ticket)}` };
  }

  /** Redeems a ticket and opens the console stream; the caller bridges it to the browser. */
  async open(
    ticket: string | undefined,
    vmId: string,
    kind: ConsoleKind,
    meta: { ip: string; requestId: string },
  ): Promise<ConsoleSession> {
    const actor = await this.tickets.redeem(ticket, `console-${kind}`, vmId);
    const { vm, lab, readOnly } = await this.access(actor, vmId);
    if ((this.perUser.get(actor.id) ?? 0) >= this.limits.sessionsPerUser) {
      throw new AppError(429, 'too_many_consoles', `You have ${this.limits.sessionsPerUser} consoles open already; close one first`);
    }
    if ((this.perVm.get(vm.id) ?? 0) >= this.limits.sessionsPerVm) {
      throw new AppError(429, 'too_many_consoles', `This VM has ${this.limits.sessionsPerVm} consoles open already`);
    }
    const stream = await this.driver.openConsole(vm.driverName, kind);
    this.bump(this.perUser, actor.id, 1);
    this.bump(this.perVm, vm.id, 1);
    const started = Date.now();
    const base = { actor, targetType: 'vm', targetId: vm.id, ip: meta.ip, requestId: meta.requestId };
    await this.audit.record({ ...base, action: 'console.open', outcome: 'success', details: { kind, readOnly, labId: lab.id } });
    if (readOnly) await this.announce(lab.id, lab.userId, vm, actor, kind, true);
    let closed = false;
    return {
      stream,
      readOnly,
      close: async (reason) => {
        if (closed) return;
        closed = true;
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
      },
    };
  }

  private async access(actor: Actor, vmId: string) {
    const vm = await this.labs.findVm(vmId);
    if (!vm) throw notFound('VM');
    const lab = await this.labs.findById(vm.labId);
    if (!lab) throw notFound('VM');
    const resource = { ownerId: lab.userId, memberIds: await this.labs.memberIds(lab.id) };
    const inLab = lab.userId === actor.id || resource.memberIds.includes(actor.id);
    const staff = can(actor, 'lab.watchConsole', resource);
    if ((!inLab && !staff) || (!vm.studentVisible && !staff)) throw notFound('VM');
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
