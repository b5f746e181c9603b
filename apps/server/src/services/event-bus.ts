import type { Database } from '../db/database.js';
import type { EventsRepository, LabEventRow } from '../repositories/events.repository.js';
import { createNotifier, type Notifier } from './pg-notifier.js';

const CHANNEL = 'ctp_lab_events';

/** Who may receive an event: the lab's owner and members (staff receive every event). */
export interface Audience {
  ownerId: string;
  memberIds: string[];
  /** Only staff receive it (e.g. a shared-answer alert). */
  staffOnly?: boolean;
}

export interface PublishedEvent {
  row: LabEventRow;
  audience: Audience;
}

/**
 * Lab events: written to the database (so reconnecting clients can fetch what they missed) and
 * announced with NOTIFY, so that every API instance delivers them to its WebSocket clients.
 */
export class EventBus {
  private readonly listeners = new Set<(event: PublishedEvent) => void>();
  private readonly notifier: Notifier;
  private unlisten: (() => Promise<void>) | undefined;
  /** Deliveries run one after another: each one reads its row, and parallel reads on a server pool finish out of order. */
  private delivering: Promise<void> = Promise.resolve();

  constructor(
    private readonly events: EventsRepository,
    database: Database,
  ) {
    this.notifier = createNotifier(database, CHANNEL);
  }

  /** Starts listening for events published by any instance. */
  async start(): Promise<void> {
    if (this.unlisten) return;
    this.unlisten = await this.notifier.listen({ onPayload: (payload) => this.enqueue(payload) });
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    this.unlisten = undefined;
  }

  /** Records an event and announces it. */
  async publish(labId: string, type: string, data: Record<string, unknown>, audience: Audience): Promise<LabEventRow> {
    const row = await this.events.insert({ labId, type, data: { ...data, audience } });
    await this.notifier.notify(String(row.id));
    return row;
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: PublishedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private enqueue(payload: string): void {
    this.delivering = this.delivering.then(() => this.deliver(payload)).catch(() => undefined);
  }

  private async deliver(payload: string): Promise<void> {
    const id = Number(payload);
    if (!Number.isInteger(id) || this.listeners.size === 0) return;
    const row = await this.events.findById(id).catch(() => undefined);
    if (!row) return;
    const event = splitAudience(row);
    for (const listener of this.listeners) listener(event);
  }
}

/** Separates the stored audience from what clients see. */
export function splitAudience(row: LabEventRow): PublishedEvent {
  const { audience, ...data } = row.data as Record<string, unknown> & { audience?: Audience };
  return { row: { ...row, data }, audience: audience ?? { ownerId: '', memberIds: [] } };
}
