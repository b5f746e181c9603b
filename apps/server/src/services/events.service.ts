import type { LabEvent } from '@ctp/contracts';
import { can, type Actor } from '../policy/policy.js';
import { presentStudentEvent } from '../presenters/student.presenter.js';
import type { EventsRepository, LabEventRow } from '../repositories/events.repository.js';
import type { LabsRepository } from '../repositories/labs.repository.js';
import { splitAudience, type EventBus, type PublishedEvent } from './event-bus.js';
import type { LabAccess } from './lab-access.js';
import type { SessionsService } from './sessions.service.js';
import type { TicketHolder } from './ticket.service.js';

/** Shapes a stored event for the wire. */
function present(row: LabEventRow): LabEvent {
  return { id: row.id, at: row.at.toISOString(), type: row.type, labId: row.labId, data: row.data as Record<string, unknown> };
}

/** The live event stream and its replay, each filtered to the labs the user may see. */
export class EventsService {
  // A lab's VMs never change after it is made, so which are hidden is cached per lab.
  private readonly hidden = new Map<string, Promise<string[]>>();

  constructor(
    private readonly events: EventsRepository,
    private readonly bus: EventBus,
    private readonly labs: LabsRepository,
    private readonly sessions: SessionsService,
    private readonly access: LabAccess,
  ) {}

  /** The event as the actor's audience sees it (staff: whole; students: the student view), or null. */
  private async presentFor(actor: Actor, event: PublishedEvent): Promise<LabEvent | null> {
    const resource = await this.access.audienceResource(event.audience);
    if (!can(actor, 'lab.read', resource)) return null;
    const wire = present(event.row);
    if (can(actor, 'lab.readConfig', resource)) return wire;
    return presentStudentEvent(wire, await this.hiddenNames(event.row.labId), event.audience.staffOnly === true);
  }

  private hiddenNames(labId: string): Promise<string[]> {
    let names = this.hidden.get(labId);
    if (!names) {
      names = this.labs.vmsOf(labId).then((vms) => vms.filter((vm) => !vm.studentVisible).map((vm) => vm.name));
      if (this.hidden.size > 10_000) this.hidden.clear();
      this.hidden.set(labId, names);
    }
    return names;
  }

  /**
   * Events after `since` that the actor may see, oldest first. Access is the actor's access
   * now, not when the event happened: a removed member cannot replay the lab's history.
   */
  async replay(actor: Actor, since: number, limit = 500): Promise<LabEvent[]> {
    const labIds = await this.access.labIdsVisibleTo(actor);
    const out: LabEvent[] = [];
    let cursor = since;
    for (let batch = 0; batch < 10 && out.length < limit; batch++) {
      const rows = await this.events.since(cursor, 500);
      for (const row of rows) {
        if (!labIds || labIds.has(row.labId)) {
          const shown = await this.presentFor(actor, splitAudience(row));
          if (shown) out.push(shown);
        }
        if (out.length >= limit) break;
      }
      if (rows.length < 500) break;
      cursor = rows[rows.length - 1]!.id;
    }
    return out;
  }

  /** The id of the newest event, so that a client can start from now. */
  async latestId(): Promise<number> {
    return this.events.latestId();
  }

  /**
   * Calls `send` for each new event the actor may see, until the returned function is called.
   * When the actor loses access to a lab it was shown (removed, sessions ended), `revoked` is
   * called (on every instance) and nothing more is sent.
   */
  async follow(actor: TicketHolder, send: (event: LabEvent) => void, revoked: (code: number, reason: string) => void): Promise<() => void> {
    const everyLab = can(actor, 'lab.listAll');
    // The labs this stream may have shown: losing access to one of them ends the stream.
    const shown = new Set(everyLab ? [] : await this.labs.labIdsOf(actor.id));
    let open = true;
    // Presenting may wait for a lookup: chain them so events keep their order.
    let queue = Promise.resolve();
    const unsubscribe = this.bus.subscribe((event) => {
      if (!open) return;
      queue = queue.then(async () => {
        // Null when the actor may not see the lab (checked per event: enrolments change).
        const wire = await this.presentFor(actor, event).catch(() => null);
        if (!open || !wire) return;
        shown.add(event.row.labId);
        send(wire);
      });
    });
    const stop = () => {
      open = false;
      unsubscribe();
      unwatch();
    };
    const unwatch = this.sessions.watch({
      userId: actor.id,
      epoch: actor.epoch,
      recheck: async (user, labId) => {
        if (labId === undefined || !shown.has(labId)) return true;
        const now = { id: user.id, username: user.username, role: user.role as Actor['role'] };
        if (can(now, 'lab.listAll')) return true;
        const lab = await this.labs.findById(labId);
        return lab !== undefined && can(now, 'lab.read', await this.access.resourceOf(lab));
      },
      close: (code, reason) => {
        stop();
        revoked(code, reason);
      },
    });
    return stop;
  }
}
