import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HelpRequest, HelpRequestList, LabEvent } from '@ctp/contracts';
import { makeLab } from '../test-support/lab-helpers.js';
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

describe('the help queue', () => {
  let ctx: TestContext;
  let base: string;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => ctx.close());

  it('round trip: a student asks, staff see it live, take it, resolve it; the student follows along', async () => {
    const alice = await signedIn(ctx, 'student');
    const bob = await signedIn(ctx, 'student');
    const teacher = await signedIn(ctx, 'instructor');
    // The teacher teaches both students; a colleague teaches neither.
    const klass = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/classes',
      headers: teacher.headers,
      payload: { name: 'Net 101', description: '' },
    });
    expect(klass.statusCode, klass.body).toBe(201);
    const enrolled = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.json().id}/students`,
      headers: teacher.headers,
      payload: { usernames: [alice.user.username, bob.user.username] },
    });
    expect(enrolled.statusCode, enrolled.body).toBeLessThan(300);
    const colleague = await signedIn(ctx, 'instructor');
    const aliceLab = (await makeLab(ctx, alice.user.id)).lab;
    const bobLab = (await makeLab(ctx, bob.user.id)).lab;
    const staffStream = await openStream(ctx, base, teacher.headers);
    const aliceStream = await openStream(ctx, base, alice.headers);
    const bobStream = await openStream(ctx, base, bob.headers);
    const ask = (who: typeof alice, labId: string, message: unknown) =>
      ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${labId}/help`, headers: who.headers, payload: { message } });

    // Bad input and other people's labs.
    expect((await ask(alice, aliceLab.id, '')).statusCode).toBe(400);
    expect((await ask(alice, aliceLab.id, 'x'.repeat(1001))).statusCode).toBe(400);
    expect((await ask(alice, aliceLab.id, '   ')).statusCode).toBe(400);
    expect((await ask(bob, aliceLab.id, 'let me in')).statusCode).toBe(404);

    const asked = await ask(alice, aliceLab.id, 'nmap is not installed?');
    expect(asked.statusCode, asked.body).toBe(201);
    const request = asked.json() as HelpRequest;
    expect(request).toMatchObject({ status: 'open', position: 1, username: alice.user.username, message: 'nmap is not installed?' });
    expect((await ask(alice, aliceLab.id, 'again')).statusCode, 'one waiting request per lab').toBe(409);
    const second = (await ask(bob, bobLab.id, 'my VM is stuck')).json() as HelpRequest;
    expect(second.position).toBe(2);

    // Staff see the queue live; students see neither the queue nor each other's requests.
    await vi.waitUntil(() => staffStream.events.filter((e) => e.type === 'help.requested').length === 2, { timeout: 5000 });
    expect(staffStream.events.find((e) => e.type === 'help.requested')?.data).toMatchObject({
      requestId: request.id,
      message: 'nmap is not installed?',
    });
    const queue = await ctx.app.inject({ url: '/api/v1/help-requests', headers: teacher.headers });
    expect((queue.json() as HelpRequestList).items.map((r) => [r.id, r.position])).toEqual([
      [request.id, 1],
      [second.id, 2],
    ]);
    expect((await ctx.app.inject({ url: '/api/v1/help-requests', headers: alice.headers })).statusCode).toBe(403);
    // An instructor who does not teach them sees none of it and cannot take it.
    expect((await ctx.app.inject({ url: '/api/v1/help-requests', headers: colleague.headers })).json().items).toEqual([]);
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${request.id}/take`, headers: colleague.headers })).statusCode,
    ).toBe(404);
    expect((await ctx.app.inject({ url: `/api/v1/labs/${aliceLab.id}/help`, headers: bob.headers })).statusCode).toBe(404);
    expect(bobStream.events.some((e) => e.labId === aliceLab.id)).toBe(false);

    // Students cannot take requests; staff take one, not twice.
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${second.id}/take`, headers: bob.headers })).statusCode,
    ).toBe(403);
    const taken = await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${request.id}/take`, headers: teacher.headers });
    expect(taken.json()).toMatchObject({ status: 'taken', takenBy: teacher.user.username, position: null });
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${request.id}/take`, headers: teacher.headers })).statusCode,
    ).toBe(409);
    await vi.waitUntil(() => aliceStream.events.some((e) => e.type === 'help.taken'), { timeout: 5000 });
    expect(aliceStream.events.find((e) => e.type === 'help.taken')?.data).toMatchObject({ by: teacher.user.username });
    // Bob moves up.
    await vi.waitUntil(() => bobStream.events.some((e) => e.type === 'help.position' && e.data.position === 1), { timeout: 5000 });

    const resolved = await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${request.id}/resolve`, headers: teacher.headers });
    expect(resolved.json()).toMatchObject({ status: 'resolved', resolvedBy: teacher.user.username });
    await vi.waitUntil(() => aliceStream.events.some((e) => e.type === 'help.resolved'), { timeout: 5000 });
    const mine = (await ctx.app.inject({ url: `/api/v1/labs/${aliceLab.id}/help`, headers: alice.headers })).json() as HelpRequestList;
    expect(mine.items.map((r) => r.status)).toEqual(['resolved']);
    // A resolved request frees the lab to ask again; the asker may withdraw theirs.
    const again = (await ask(alice, aliceLab.id, 'one more thing')).json() as HelpRequest;
    const withdrawn = await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${again.id}/resolve`, headers: alice.headers });
    expect(withdrawn.json()).toMatchObject({ status: 'cancelled' });
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${second.id}/resolve`, headers: alice.headers })).statusCode,
    ).toBe(404);
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/help-requests/${crypto.randomUUID()}/take`, headers: teacher.headers }))
        .statusCode,
    ).toBe(404);

    const admin = await signedIn(ctx, 'admin');
    const audit = (await ctx.app.inject({ url: '/api/v1/audit?limit=100', headers: admin.headers })).json().items as { action: string }[];
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['help.ask', 'help.take', 'help.resolve']));
    for (const s of [staffStream, aliceStream, bobStream]) s.socket.close();
  });
});
