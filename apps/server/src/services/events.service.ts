import type { LabEvent } from '@ctp/contracts';
import { can, type Actor } from '../policy/policy.js';
import type { EventsRepository, LabEventRow } from '../repositories/events.repository.js';
import { splitAudience, type EventBus, type PublishedEvent } from './event-bus.js';

/** Shapes a stored event for the wire. */
function present(row: LabEventRow): LabEvent {
  return { id: row.id, at: row.at.toISOString(), type: row.type, labId: row.labId, data: row.data as Record<string, unknown> };
}

/** True when the actor may see events of the lab the event is about. */
function visibleTo(actor: Actor, event: PublishedEvent): boolean {
  return can(actor, 'lab.read', { ownerId: event.audience.ownerId, memberIds: event.audience.memberIds });
}

/** The live event stream and its replay, each filtered to the labs the user may see. */
export class EventsService {
  constructor(
    private readonly events: EventsRepository,
    private readonly bus: EventBus,
  ) {}

  /** Events after `since` that the actor may see, oldest first. */
  async replay(actor: Actor, since: number, limit = 500): Promise<LabEvent[]> {
    const out: LabEvent[] = [];
    let cursor = since;
    for (let batch = 0; batch < 10 && out.length < limit; batch++) {
      const rows = await this.events.since(cursor, 500);
      for (const row of rows) {
        const event = splitAudience(row);
        if (visibleTo(actor, event)) out.push(present(event.row));
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

  /** Calls `send` for each new event the actor may see; returns the unsubscribe function. */
  follow(actor: Actor, send: (event: LabEvent) => void): () => void {
    return this.bus.subscribe((event) => {
      if (visibleTo(actor, event)) send(present(event.row));
    });
  }
}
