import type { Database } from '../db/database.js';
import type { EventsRepository, LabEventRow } from '../repositories/events.repository.js';
import type { Notifier } from '../db/notifier.js';

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
  // The newest event id this instance delivered (or knew of at start), where a replay starts.
  private lastId = 0;
  // Events older than the start were never this instance's to deliver.
  private floor = 0;
  // Events delivered lately (id and time: ids restart when a backup is restored), so that an event
  // both replayed and announced is delivered once.
  private readonly recent = new Set<string>();
  /** Ids this instance published whose announcement has not come back yet. */
  private readonly ownEchoes = new Set<number>();
  private lost = false;
  private lostAt = 0;
  private stopped = false;

  constructor(
    private readonly events: EventsRepository,
    database: Database,
    private readonly log: (message: string, details: Record<string, unknown>) => void = () => {},
    notifier?: Notifier,
  ) {
    this.notifier = notifier ?? database.notifier(CHANNEL);
  }

  /** Starts listening for events published by any instance. */
  async start(): Promise<void> {
    if (this.unlisten) return;
    this.stopped = false;
    this.lastId = this.floor = await this.events.latestId();
    this.unlisten = await this.notifier.listen({
      onPayload: (payload) => this.enqueue(() => this.deliver(payload)),
      onLost: () => {
        if (!this.lost) this.lostAt = Date.now();
        this.lost = true;
        this.log('event LISTEN connection lost; reconnecting', { lastEventId: this.lastId });
      },
      // Announcements made while the connection was down reached nobody here: read them back.
      onRestored: () => this.enqueue(() => this.replay()),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.unlisten?.();
    this.unlisten = undefined;
  }

  /** False while the LISTEN connection is lost: events are not delivered here until it is back. */
  get healthy(): boolean {
    return !this.lost;
  }

  /**
   * Records an event and announces it. This instance's own listeners get the inserted row at
   * once, and the announcement's echo here is not read back: the other instances read it.
   */
  async publish(labId: string, type: string, data: Record<string, unknown>, audience: Audience): Promise<LabEventRow> {
    const row = await this.events.insert({ labId, type, data: { ...data, audience } });
    if (this.unlisten) {
      this.ownEchoes.add(row.id);
      if (this.ownEchoes.size > RECENT_IDS) this.ownEchoes.delete(this.ownEchoes.values().next().value!);
      this.enqueue(async () => (this.recent.has(keyOf(row)) ? undefined : this.dispatch(row)));
    }
    await this.notifier.notify(String(row.id));
    return row;
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: PublishedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private enqueue(task: () => Promise<void>): void {
    this.delivering = this.delivering.then(task).catch(() => undefined);
  }

  private async deliver(payload: string): Promise<void> {
    const id = Number(payload);
    if (!Number.isInteger(id)) return;
    // Published here and delivered already: a class start publishes hundreds of events a second.
    if (this.ownEchoes.delete(id)) return;
    if (this.listeners.size === 0) return void (this.lastId = Math.max(this.lastId, id));
    let row: LabEventRow | undefined;
    try {
      row = await this.events.findById(id);
    } catch {
      // The database failed between the announcement and the read: read it back once it answers.
      return this.replay();
    }
    if (row && !this.recent.has(keyOf(row))) this.dispatch(row);
  }

  private dispatch(row: LabEventRow): void {
    this.recent.add(keyOf(row));
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.values().next().value!);
    this.lastId = Math.max(this.lastId, row.id);
    if (this.listeners.size === 0) return;
    const event = splitAudience(row);
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Delivers, in id order, the events written since the last one delivered here. It starts a little
   * before that one: an id is taken at insert and committed later, so a slow transaction's event can
   * appear below ids already seen. Retried until the database answers (or the bus stops).
   */
  private async replay(): Promise<void> {
    const newest = this.lastId;
    let cursor = Math.max(this.floor, newest - REPLAY_OVERLAP);
    let replayed = 0;
    for (let delay = 500; !this.stopped; delay = Math.min(delay * 2, 5000)) {
      try {
        for (;;) {
          const rows = await this.events.since(cursor, REPLAY_BATCH);
          for (const row of rows) {
            if (this.recent.has(keyOf(row))) continue;
            // Below the newest id seen, only a late commit from around the loss is new here.
            if (row.id <= newest && row.at.getTime() < this.lostAt - LATE_COMMIT_MS) continue;
            replayed++;
            this.dispatch(row);
          }
          if (rows.length < REPLAY_BATCH) break;
          cursor = rows[rows.length - 1]!.id;
        }
        break;
      } catch (error) {
        this.log('replaying missed events failed; retrying', { error: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    if (this.lost || replayed > 0) this.log('event delivery resumed; missed events replayed', { replayed, lastEventId: this.lastId });
    this.lost = false;
  }
}

const RECENT_IDS = 10_000;
const LATE_COMMIT_MS = 60_000;
const REPLAY_OVERLAP = 100;
const REPLAY_BATCH = 500;

function keyOf(row: LabEventRow): string {
  return `${row.id}@${row.at.getTime()}`;
}

/** Separates the stored audience from what clients see. */
export function splitAudience(row: LabEventRow): PublishedEvent {
  const { audience, ...data } = row.data as Record<string, unknown> & { audience?: Audience };
  return { row: { ...row, data }, audience: audience ?? { ownerId: '', memberIds: [] } };
}
