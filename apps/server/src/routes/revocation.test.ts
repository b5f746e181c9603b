import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Role } from '@ctp/contracts';
import { CLOSE_ACCESS_REVOKED, CLOSE_SESSION_ENDED } from '../services/sessions.service.js';
import { makeLab } from '../test-support/lab-helpers.js';
import { createPeerApp, createTestApp, login, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';
import { openSocket, type WatchedClient } from '../test-support/ws-client.js';

/*
 * Revocation reaches every open socket on every API instance. Two instances share the test
 * database: with DATABASE_URL (the server pass) the peer has its own pool and LISTEN connection,
 * exactly as a second server process would, so this proves NOTIFY crosses instances through
 * PostgreSQL; on PGlite (one database object per process) the two apps share it, so this proves
 * each instance's own cache and sockets are driven by the NOTIFY and not by the request path.
 * The sockets are real WebSockets on a running lab of the memory driver; the real-QEMU console
 * case is in labs.qemu.test.ts.
 */
describe('revocation of sessions and open sockets, on two instances', () => {
  let ctx: TestContext;
  let peer: TestContext & { base: string };
  let base: string;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    peer = await createPeerApp(ctx);
  });
  afterAll(async () => {
    await peer.close();
    await ctx.close();
  });
  beforeEach(() => resetDatabase());

  type Person = Awaited<ReturnType<typeof signedIn>>;

  /** A running lab of `owner`, shared with a signed-in `member` of the given role. */
  async function sharedLab(memberRole: Role) {
    const owner = await signedIn(ctx, 'student');
    const member = await signedIn(ctx, memberRole);
    const admin = await signedIn(ctx, 'admin');
    const { lab, vm } = await makeLab(ctx, owner.user.id);
    const added = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/labs/${lab.id}/members`,
      headers: owner.headers,
      payload: { userId: member.user.id },
    });
    expect(added.statusCode, added.body).toBe(200);
    return { owner, member, admin, lab, vm };
  }

  /** Opens a console and an event stream as `who` on one instance. */
  async function openSockets(app: TestContext, wsBase: string, who: Person, vmId: string) {
    const consoleTicket = await app.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers: who.headers,
      payload: { kind: 'serial' },
    });
    expect(consoleTicket.statusCode, consoleTicket.body).toBe(201);
    const consoleSocket = await openSocket(`${wsBase}${consoleTicket.json().url}`);
    consoleSocket.ws.send('echo before\n');
    await vi.waitUntil(() => consoleSocket.received().includes('echo before'), { timeout: 5000, interval: 20 });
    const eventTicket = await app.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: who.headers });
    const events = await openSocket(`${wsBase}${eventTicket.json().url}`);
    await vi.waitUntil(() => events.received().includes('"ready"'), { timeout: 5000, interval: 20 });
    return [consoleSocket, events];
  }

  /** Every socket is closed with `code` within 2 s of `since`. */
  async function expectClosed(sockets: WatchedClient[], code: number, since: number) {
    for (const socket of sockets) {
      const closed = await Promise.race([socket.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000))]);
      expect(closed, 'socket still open 2 s after the revocation').toBeDefined();
      expect(closed!.code).toBe(code);
      expect(closed!.at - since).toBeLessThan(2000);
    }
  }

  /** The old access token is refused on both instances (the peer learns it through NOTIFY). */
  async function expectTokenRefused(token: string) {
    const me = (app: TestContext) => app.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect((await me(ctx)).statusCode).toBe(401);
    await vi.waitUntil(async () => (await me(peer)).statusCode === 401, { timeout: 2000, interval: 20 });
    expect(['session_ended', 'unauthorized']).toContain((await me(peer)).json().error.code);
  }

  const sessionEnders: { name: string; role: Role; act: (f: Awaited<ReturnType<typeof sharedLab>>) => Promise<number> }[] = [
    {
      name: 'user disabled by an admin',
      role: 'student',
      act: async ({ admin, member }) =>
        (
          await ctx.app.inject({
            method: 'PATCH',
            url: `/api/v1/users/${member.user.id}`,
            headers: admin.headers,
            payload: { disabled: true },
          })
        ).statusCode,
    },
    {
      name: 'role lowered by an admin',
      role: 'instructor',
      act: async ({ admin, member }) =>
        (
          await ctx.app.inject({
            method: 'PATCH',
            url: `/api/v1/users/${member.user.id}`,
            headers: admin.headers,
            payload: { role: 'student' },
          })
        ).statusCode,
    },
    {
      name: 'password reset by an admin',
      role: 'student',
      act: async ({ admin, member }) =>
        (
          await ctx.app.inject({
            method: 'POST',
            url: `/api/v1/users/${member.user.id}/password`,
            headers: admin.headers,
            payload: { password: 'a brand new password' },
          })
        ).statusCode,
    },
    {
      name: 'sign out everywhere',
      role: 'student',
      act: async ({ member }) =>
        (await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: member.headers })).statusCode,
    },
  ];

  for (const { name, role, act } of sessionEnders) {
    it(`${name}: tokens refused and console and event sockets closed (${CLOSE_SESSION_ENDED}) on both instances`, async () => {
      const fixture = await sharedLab(role);
      const { member, vm } = fixture;
      const second = await login(ctx, member.user.username, member.user.password);
      const sockets = [...(await openSockets(ctx, base, member, vm.id)), ...(await openSockets(peer, peer.base, member, vm.id))];
      const actedAt = Date.now();
      expect([200, 204]).toContain(await act(fixture));
      await expectClosed(sockets, CLOSE_SESSION_ENDED, actedAt);
      await expectTokenRefused(member.token);
      await expectTokenRefused(second.token);
      const refresh = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { ctp_refresh: second.cookie } });
      expect(refresh.statusCode).toBe(401);
      // The slots of the closed consoles are free again on both instances.
      await vi.waitUntil(() => ctx.services.consoles.openSessions(vm.id) === 0 && peer.services.consoles.openSessions(vm.id) === 0, {
        timeout: 2000,
        interval: 20,
      });
    });
  }

  it(`member removed: console and event sockets closed (${CLOSE_ACCESS_REVOKED}) on both instances, no more events, no replay`, async () => {
    const { owner, member, lab, vm } = await sharedLab('student');
    const sockets = [...(await openSockets(ctx, base, member, vm.id)), ...(await openSockets(peer, peer.base, member, vm.id))];
    const [ownerConsole, ownerEvents] = await openSockets(peer, peer.base, owner, vm.id);
    // The lab has a history, and the member can replay it while still a member (positive control).
    await ctx.services.eventBus.publish(
      lab.id,
      'lab.status',
      { status: 'running' },
      { ownerId: owner.user.id, memberIds: [member.user.id] },
    );
    const before = await ctx.app.inject({ url: '/api/v1/events?since=0', headers: member.headers });
    expect(before.json().items.filter((e: { labId: string }) => e.labId === lab.id)).toHaveLength(1);
    const actedAt = Date.now();
    const removed = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/labs/${lab.id}/members/${member.user.id}`,
      headers: owner.headers,
    });
    expect(removed.statusCode, removed.body).toBe(200);
    await expectClosed(sockets, CLOSE_ACCESS_REVOKED, actedAt);
    // The member's session lives on; only this lab is gone from it, on both instances.
    for (const app of [ctx, peer]) {
      expect((await app.app.inject({ url: '/api/v1/auth/me', headers: member.headers })).statusCode).toBe(200);
      expect((await app.app.inject({ url: `/api/v1/labs/${lab.id}`, headers: member.headers })).statusCode).toBe(404);
      const replay = await app.app.inject({ url: '/api/v1/events?since=0', headers: member.headers });
      expect(replay.json().items.filter((e: { labId: string }) => e.labId === lab.id)).toEqual([]);
    }
    // A new event stream replaying from the start shows nothing of the lab either.
    const ticket = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: member.headers })).json();
    const replayed = await openSocket(`${base}${ticket.url}&since=0`);
    await vi.waitUntil(() => replayed.received().includes('"ready"'), { timeout: 5000, interval: 20 });
    expect(replayed.received()).not.toContain(lab.id);
    replayed.ws.close();
    // The owner keeps both sockets.
    expect(ownerConsole!.isClosed()).toBe(false);
    expect(ownerEvents!.isClosed()).toBe(false);
    ownerConsole!.ws.close();
    ownerEvents!.ws.close();
  });

  it(`lab deleted: consoles of it closed (${CLOSE_ACCESS_REVOKED}) on both instances`, async () => {
    const { owner, member, lab, vm } = await sharedLab('student');
    // The deletion is made through the first instance (the peer runs no job workers).
    const [here] = await openSockets(ctx, base, member, vm.id);
    const [there] = await openSockets(peer, peer.base, owner, vm.id);
    const actedAt = Date.now();
    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: owner.headers });
    expect(deleted.statusCode, deleted.body).toBe(202);
    await expectClosed([here!, there!], CLOSE_ACCESS_REVOKED, actedAt);
  });

  it(`lab expired: consoles of it closed (${CLOSE_ACCESS_REVOKED}) on both instances`, async () => {
    const { owner, member, lab, vm } = await sharedLab('student');
    const [here] = await openSockets(ctx, base, member, vm.id);
    const [there] = await openSockets(peer, peer.base, owner, vm.id);
    await ctx.services.repositories.labs.update(lab.id, { expiresAt: new Date(Date.now() - 1000) });
    const actedAt = Date.now();
    expect((await ctx.services.maintenance.expireLabs()).expired).toEqual([lab.id]);
    await expectClosed([here!, there!], CLOSE_ACCESS_REVOKED, actedAt);
  });
});
