import { beforeEach, describe, expect, it, vi } from 'vitest';
import { EventsRepository } from '../repositories/events.repository.js';
import { resetDatabase, testDatabase } from '../test-support/test-database.js';
import { EventBus, type PublishedEvent } from './event-bus.js';
import type { ListenHandlers, Notifier } from '../db/notifier.js';

/** A notifier whose connection the test breaks and restores (announcements while broken reach nobody). */
function breakableNotifier() {
  let handlers: ListenHandlers | undefined;
  let connected = true;
  const notifier: Notifier = {
    notify: async (payload) => {
      if (connected) queueMicrotask(() => handlers?.onPayload(payload));
    },
    listen: async (given) => {
      handlers = given;
      return async () => void (handlers = undefined);
    },
  };
  return {
    notifier,
    lose: () => {
      connected = false;
      handlers?.onLost?.();
    },
    restore: () => {
      connected = true;
      handlers?.onRestored?.();
    },
  };
}

describe('event bus after a lost LISTEN connection', () => {
  beforeEach(() => resetDatabase());

  it('is unhealthy while deaf, then delivers the missed events in order, each once, and is healthy again', async () => {
    const database = await testDatabase();
    const repository = new EventsRepository(database.db);
    const link = breakableNotifier();
    const bus = new EventBus(repository, database, () => {}, link.notifier);
    // Another API instance: it publishes through the same channel and listens to nothing.
    const other = new EventBus(repository, database, () => {}, link.notifier);
    const audience = { ownerId: crypto.randomUUID(), memberIds: [] };
    const labId = crypto.randomUUID();
    // Written before the bus started: never this instance's to deliver.
    await repository.insert({ labId, type: 'old', data: { audience } });
    await bus.start();
    const received: PublishedEvent[] = [];
    bus.subscribe((event) => received.push(event));

    const before = await other.publish(labId, 'before', {}, audience);
    await vi.waitUntil(() => received.length === 1);
    link.lose();
    expect(bus.healthy).toBe(false);
    const missed = [];
    for (let i = 0; i < 3; i++) missed.push(await other.publish(labId, `missed-${i}`, { i }, audience));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.map((e) => e.row.id)).toEqual([before.id]);

    link.restore();
    // Announced right after the restore, while the replay may still run: delivered once, after them.
    const after = await other.publish(labId, 'after', {}, audience);
    await vi.waitUntil(() => received.some((e) => e.row.id === after.id), { timeout: 5000 });
    await vi.waitUntil(() => bus.healthy, { timeout: 5000 });
    expect(received.map((e) => e.row.type)).toEqual(['before', 'missed-0', 'missed-1', 'missed-2', 'after']);
    // The stored audience is not part of what listeners get as data.
    expect(received[2]!.row.data).toEqual({ i: 1 });
    expect(received[2]!.audience).toEqual(audience);

    // A second loss with nothing missed replays nothing.
    link.lose();
    link.restore();
    await vi.waitUntil(() => bus.healthy, { timeout: 5000 });
    expect(received).toHaveLength(5);
    await bus.stop();
  });
});

describe('event bus: events published by this instance', () => {
  beforeEach(() => resetDatabase());

  it('delivers them here at once, even while deaf, each once, without reading them back', async () => {
    const database = await testDatabase();
    const repository = new EventsRepository(database.db);
    const link = breakableNotifier();
    const bus = new EventBus(repository, database, () => {}, link.notifier);
    const audience = { ownerId: crypto.randomUUID(), memberIds: [crypto.randomUUID()] };
    const labId = crypto.randomUUID();
    await bus.start();
    const received: PublishedEvent[] = [];
    bus.subscribe((event) => received.push(event));
    const reads = vi.spyOn(repository, 'findById');

    const first = await bus.publish(labId, 'first', { n: 1 }, audience);
    await vi.waitUntil(() => received.length === 1);
    link.lose();
    const second = await bus.publish(labId, 'second', { n: 2 }, audience);
    await vi.waitUntil(() => received.length === 2);
    link.restore();
    const third = await bus.publish(labId, 'third', { n: 3 }, audience);
    await vi.waitUntil(() => bus.healthy && received.length >= 3, { timeout: 5000 });
    // The echoes of the announcements came back (or were replayed): still once each.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.map((e) => e.row.id)).toEqual([first.id, second.id, third.id]);
    expect(received[1]).toMatchObject({ row: { type: 'second', data: { n: 2 } }, audience });
    expect(reads).not.toHaveBeenCalled();
    await bus.stop();
  });
});
