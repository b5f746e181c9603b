import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LabEvent } from '@ctp/contracts';
import { EventBus } from '../services/event-bus.js';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase, testDatabase } from '../test-support/test-database.js';
import { tryUpgrade } from '../test-support/ws-client.js';

/** Opens the event stream with a fresh ticket and collects what arrives. */
async function openStream(ctx: TestContext, base: string, headers: Record<string, string>, since?: number) {
  const ticket = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers })).json();
  const url = `${base}${ticket.url}${since !== undefined ? `&since=${since}` : ''}`;
  const socket = new WebSocket(url);
  const events: LabEvent[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    socket.onmessage = (message) => {
      const data = JSON.parse(String(message.data));
      if (data.type === 'ready') resolve();
      else events.push(data);
    };
    socket.onerror = () => reject(new Error('socket error'));
  });
  await ready;
  return { socket, events, ticket: ticket.ticket as string };
}

describe('live events', () => {
  let ctx: TestContext;
  let base: string;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  let bob: Awaited<ReturnType<typeof signedIn>>;
  let admin: Awaited<ReturnType<typeof signedIn>>;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    alice = await signedIn(ctx, 'student');
    bob = await signedIn(ctx, 'student');
    admin = await signedIn(ctx, 'admin');
  });

  it("streams a lab's progress to its owner and staff, and nothing of it to another student", async () => {
    const aliceStream = await openStream(ctx, base, alice.headers);
    const bobStream = await openStream(ctx, base, bob.headers);
    const adminStream = await openStream(ctx, base, admin.headers);
    const lab = (
      await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/labs',
        headers: alice.headers,
        payload: { templateId: await demoTemplateId(ctx) },
      })
    ).json();
    await vi.waitUntil(() => aliceStream.events.some((e) => e.type === 'lab.status' && e.data.status === 'running'), {
      timeout: 15000,
      interval: 20,
    });
    const types = aliceStream.events.map((e) => `${e.type}:${e.data.status ?? e.data.done ?? ''}`);
    expect(types[0]).toBe('lab.status:provisioning');
    expect(types).toContain('lab.progress:5');
    expect(types.filter((t) => t === 'vm.status:running')).toHaveLength(2);
    expect(aliceStream.events.every((e) => e.labId === lab.id && !('audience' in e.data))).toBe(true);
    await vi.waitUntil(() => adminStream.events.some((e) => e.type === 'lab.status' && e.data.status === 'running'), {
      timeout: 15000,
      interval: 20,
    });
    expect(bobStream.events).toEqual([]);
    for (const s of [aliceStream, bobStream, adminStream]) s.socket.close();
  });

  it('replays what a reconnecting client missed, only about its labs', async () => {
    const before = (await ctx.app.inject({ url: '/api/v1/events', headers: alice.headers })).json().latestId;
    const lab = (
      await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/labs',
        headers: alice.headers,
        payload: { templateId: await demoTemplateId(ctx) },
      })
    ).json();
    await waitForLab(ctx, alice.headers, lab.id, (l) => l.status === 'running');
    const missed = (await ctx.app.inject({ url: `/api/v1/events?since=${before}`, headers: alice.headers })).json().items as LabEvent[];
    expect(missed.at(-1)).toMatchObject({ type: 'lab.status', data: { status: 'running' } });
    expect((await ctx.app.inject({ url: `/api/v1/events?since=${before}`, headers: bob.headers })).json().items).toEqual([]);
    const reconnect = await openStream(ctx, base, alice.headers, before);
    expect(reconnect.events.map((e) => e.id)).toEqual(missed.map((e) => e.id));
    reconnect.socket.close();
  });

  it('refuses reused, unknown and other-purpose tickets before the upgrade', async () => {
    const { socket, ticket } = await openStream(ctx, base, alice.headers);
    socket.close();
    for (const bad of [ticket, 'made-up-ticket']) {
      const response = await tryUpgrade(`${base}/api/v1/events/stream?ticket=${encodeURIComponent(bad)}`);
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body).error.code).toBe('invalid_ticket');
    }
    const other = await ctx.services.tickets.issue(
      { id: alice.user.id, username: alice.user.username, role: 'student' },
      'console-serial',
      'some-vm',
    );
    const wrongKind = await tryUpgrade(`${base}/api/v1/events/stream?ticket=${encodeURIComponent(other.ticket)}`);
    expect(wrongKind.status).toBe(401);
    expect(JSON.parse(wrongKind.body).error.message).toMatch(/something else/);
  });

  it('spends no ticket on a stream request that fails validation, and refuses other sites', async () => {
    const issued = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: alice.headers })).json();
    expect((await tryUpgrade(`${base}${issued.url}&since=-1`)).status).toBe(400);
    expect((await tryUpgrade(`${base}${issued.url}&other=1`)).status).toBe(400);
    expect((await tryUpgrade(`${base}${issued.url}`, { origin: 'https://evil.example' })).status).toBe(403);
    const opened = await tryUpgrade(`${base}${issued.url}`);
    expect(opened.status).toBe(101);
    opened.socket!.ws.close();
  });

  it('delivers events published by another instance through NOTIFY', async () => {
    const database = await testDatabase();
    const other = new EventBus(ctx.services.repositories.events, database);
    const received: number[] = [];
    const unsubscribe = ctx.services.eventBus.subscribe((event) => received.push(event.row.id));
    const row = await other.publish(crypto.randomUUID(), 'lab.status', { status: 'running' }, { ownerId: alice.user.id, memberIds: [] });
    await vi.waitUntil(() => received.includes(row.id), { timeout: 15000, interval: 20 });
    unsubscribe();
  });

  it('delivers events in the order they were announced, even when reading the first one is slower', async () => {
    const database = await testDatabase();
    const repository = ctx.services.repositories.events;
    let slowId = 0;
    const slowRepository = Object.create(repository) as typeof repository;
    slowRepository.findById = async (id: number) => {
      if (id === slowId) await new Promise((resolve) => setTimeout(resolve, 200));
      return repository.findById(id);
    };
    const listening = new EventBus(slowRepository, database);
    await listening.start();
    const received: number[] = [];
    const unsubscribe = listening.subscribe((event) => received.push(event.row.id));
    const audience = { ownerId: alice.user.id, memberIds: [] };
    const labId = crypto.randomUUID();
    slowId = (await repository.latestId()) + 1;
    const first = await ctx.services.eventBus.publish(labId, 'vm.status', { status: 'running' }, audience);
    const second = await ctx.services.eventBus.publish(labId, 'lab.status', { status: 'running' }, audience);
    expect(first.id).toBe(slowId);
    await vi.waitUntil(() => received.includes(second.id), { timeout: 15000, interval: 20 });
    expect(received.filter((id) => id === first.id || id === second.id)).toEqual([first.id, second.id]);
    unsubscribe();
    await listening.stop();
  });
});
