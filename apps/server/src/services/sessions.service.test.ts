import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { accessTickets, refreshTokens as refreshTokensTable } from '../db/schema.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import type { ListenHandlers, Notifier } from '../db/notifier.js';
import { SessionsService } from './sessions.service.js';

/** A notifier whose LISTEN connection the test can break and restore. */
function controllableNotifier(): Notifier & { handlers?: ListenHandlers; sent: string[] } {
  const notifier: Notifier & { handlers?: ListenHandlers; sent: string[] } = {
    sent: [],
    notify: async (payload) => {
      notifier.sent.push(payload);
      notifier.handlers?.onPayload(payload);
    },
    listen: async (handlers) => {
      notifier.handlers = handlers;
      return async () => {};
    },
  };
  return notifier;
}

describe('session cache', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestApp();
  });
  afterEach(() => ctx.close());

  it('serves authenticated requests without a query once the user is cached', async () => {
    const alice = await signedIn(ctx, 'student');
    const findById = vi.spyOn(ctx.services.repositories.users, 'findById');
    for (let i = 0; i < 5; i++) {
      const response = await ctx.app.inject({ url: '/api/v1/auth/me', headers: alice.headers });
      expect(response.statusCode).toBe(200);
      expect(response.json().user.username).toBe(alice.user.username);
    }
    expect(await ctx.app.inject({ url: '/api/v1/templates', headers: alice.headers }).then((r) => r.statusCode)).toBe(200);
    // One load for the first request, none after.
    expect(findById).toHaveBeenCalledTimes(1);
    findById.mockRestore();
  });

  it('reloads a user after a change announced by NOTIFY, and caches nothing while LISTEN is down', async () => {
    const { users, refreshTokens, tickets } = ctx.services.repositories;
    const notifier = controllableNotifier();
    const sessions = new SessionsService(users, refreshTokens, tickets, notifier);
    await sessions.start();
    const alice = await signedIn(ctx, 'student');
    const findById = vi.spyOn(users, 'findById');
    expect((await sessions.user(alice.user.id))?.role).toBe('student');
    expect((await sessions.user(alice.user.id))?.role).toBe('student');
    expect(findById).toHaveBeenCalledTimes(1);

    // Changed by another instance: this one hears it and reloads.
    await users.update(alice.user.id, { role: 'instructor' }, true);
    notifier.handlers!.onPayload(`u:${alice.user.id}`);
    expect(await sessions.user(alice.user.id)).toMatchObject({ role: 'instructor', sessionEpoch: 1 });
    expect(findById).toHaveBeenCalledTimes(2);

    // The LISTEN connection breaks: what was cached is dropped and nothing is cached meanwhile,
    // since a change made now would not be heard.
    notifier.handlers!.onLost!();
    await users.update(alice.user.id, { disabled: true }, true);
    expect((await sessions.user(alice.user.id))?.disabled).toBe(true);
    await sessions.user(alice.user.id);
    expect(findById).toHaveBeenCalledTimes(4);
    await users.update(alice.user.id, { disabled: false }, true);
    notifier.handlers!.onRestored!();
    expect((await sessions.user(alice.user.id))?.disabled).toBe(false);
    await sessions.user(alice.user.id);
    expect(findById).toHaveBeenCalledTimes(5);
    findById.mockRestore();
    await sessions.stop();
  });

  it('does not cache a load that raced with an invalidation', async () => {
    const { users, refreshTokens, tickets } = ctx.services.repositories;
    const notifier = controllableNotifier();
    const sessions = new SessionsService(users, refreshTokens, tickets, notifier);
    await sessions.start();
    const alice = await signedIn(ctx, 'student');
    const loading = sessions.user(alice.user.id);
    // The change lands while the (old) row is being loaded.
    notifier.handlers!.onPayload(`u:${alice.user.id}`);
    await loading;
    const findById = vi.spyOn(users, 'findById');
    await sessions.user(alice.user.id);
    expect(findById).toHaveBeenCalledTimes(1);
    findById.mockRestore();
    await sessions.stop();
  });

  it('ends sessions: epoch bumped, refresh tokens and tickets revoked, every instance told', async () => {
    const notifier = controllableNotifier();
    const { users, refreshTokens, tickets } = ctx.services.repositories;
    const sessions = new SessionsService(users, refreshTokens, tickets, notifier);
    const alice = await signedIn(ctx, 'student');
    await ctx.services.tickets.issue({ id: alice.user.id, username: alice.user.username, role: 'student' }, 'events', null);
    await sessions.ended(alice.user.id);
    expect(notifier.sent).toEqual([`u:${alice.user.id}`]);
    expect(await ctx.services.database.db.select().from(accessTickets)).toEqual([]);
    const refresh = await ctx.services.database.db.select().from(refreshTokensTable);
    expect(refresh.length).toBeGreaterThan(0);
    expect(refresh.every((row) => row.revokedAt !== null)).toBe(true);
  });
});
