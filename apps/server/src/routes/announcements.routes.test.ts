import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AnnouncementList, LabEvent } from '@ctp/contracts';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

/** Opens the event WebSocket with a fresh ticket and collects what arrives. */
async function openStream(ctx: TestContext, base: string, headers: Record<string, string>) {
  const ticket = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers })).json();
  const socket = new WebSocket(`${base}${ticket.url}`);
  const events: LabEvent[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.onmessage = (message) => {
      const data = JSON.parse(String(message.data));
      if (data.type === 'ready') resolve();
      else events.push(data);
    };
    socket.onerror = () => reject(new Error('socket error'));
  });
  return { socket, events };
}

describe('class announcements', () => {
  let ctx: TestContext;
  let base: string;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => ctx.close());

  it("reach the class's students live and on their pages; nobody else; only the class's teachers announce", async () => {
    const teacher = await signedIn(ctx, 'instructor');
    const colleague = await signedIn(ctx, 'instructor');
    const alice = await signedIn(ctx, 'student');
    const outsider = await signedIn(ctx, 'student');
    const klass = (
      await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/classes',
        headers: teacher.headers,
        payload: { name: 'Net 101', description: '' },
      })
    ).json();
    await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.id}/students`,
      headers: teacher.headers,
      payload: { usernames: [alice.user.username] },
    });
    const aliceStream = await openStream(ctx, base, alice.headers);
    const outsiderStream = await openStream(ctx, base, outsider.headers);
    const announce = (who: typeof teacher, message: string) =>
      ctx.app.inject({ method: 'POST', url: `/api/v1/classes/${klass.id}/announcements`, headers: who.headers, payload: { message } });

    expect((await announce(teacher, '   ')).statusCode).toBe(400);
    expect((await announce(alice, 'free pizza')).statusCode).toBeGreaterThanOrEqual(403);
    expect([403, 404]).toContain((await announce(colleague, 'not my class')).statusCode);
    const made = await announce(teacher, 'Ten minutes left: submit your flags');
    expect(made.statusCode, made.body).toBe(201);
    expect(made.json()).toMatchObject({ className: 'Net 101', by: teacher.user.username });

    await vi.waitUntil(() => aliceStream.events.some((e) => e.type === 'class.announcement'), { timeout: 5000 });
    expect(aliceStream.events.find((e) => e.type === 'class.announcement')?.data).toMatchObject({
      message: 'Ten minutes left: submit your flags',
    });
    const mine = (await ctx.app.inject({ url: '/api/v1/announcements', headers: alice.headers })).json() as AnnouncementList;
    expect(mine.items.map((a) => a.message)).toEqual(['Ten minutes left: submit your flags']);
    expect(((await ctx.app.inject({ url: '/api/v1/announcements', headers: outsider.headers })).json() as AnnouncementList).items).toEqual(
      [],
    );
    // Give a stray delivery time to arrive before asserting that none did.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(outsiderStream.events.some((e) => e.type === 'class.announcement')).toBe(false);
    const admin = await signedIn(ctx, 'admin');
    const audit = (await ctx.app.inject({ url: '/api/v1/audit?limit=50', headers: admin.headers })).json().items as { action: string }[];
    expect(audit.map((e) => e.action)).toContain('class.announce');
    aliceStream.socket.close();
    outsiderStream.socket.close();
  });
});
