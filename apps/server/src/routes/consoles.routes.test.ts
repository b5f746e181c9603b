import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';
import { tryUpgrade } from '../test-support/ws-client.js';

/** Opens a console WebSocket and collects the bytes it receives as text, and its close code. */
function connect(url: string): Promise<{ socket: WebSocket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    let text = '';
    const closed = new Promise<number>((done) => socket.addEventListener('close', (event) => done(event.code)));
    socket.onmessage = (message) => (text += Buffer.from(message.data as ArrayBuffer).toString());
    socket.onopen = () => resolve({ socket, received: () => text, closed });
    socket.onerror = () => reject(new Error('refused'));
  });
}

// The memory driver's console is one stream per VM shared by every session (as on QEMU) and
// echoes what is typed, like a terminal with local echo; `ctx.driver.console(vm).typed` is what reached it.
describe('console tickets and sessions (memory driver)', () => {
  let ctx: TestContext;
  let base: string;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  let bob: Awaited<ReturnType<typeof signedIn>>;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  beforeAll(async () => {
    ctx = await createTestApp({ consoleSessionsPerVm: 2, corsOrigins: ['https://lms.example.edu'] });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    alice = await signedIn(ctx, 'student');
    bob = await signedIn(ctx, 'student');
    teacher = await signedIn(ctx, 'instructor');
    await teach(ctx, teacher.user.id, [alice.user.id, bob.user.id]);
  });

  const ticket = (vmId: string, headers: Record<string, string>, kind = 'serial') =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vmId}/console-tickets`, headers, payload: { kind } });
  /** Waits until the server has ended a console session of `actorId` (its close is audited). */
  const closed = (actorId: string) =>
    vi.waitUntil(
      async () =>
        (await ctx.services.repositories.audit.list({ limit: 50, offset: 0, action: 'console.close' })).rows.some(
          (e) => e.actorId === actorId,
        ),
      { timeout: 5000, interval: 20 },
    );

  it('bridges the console both ways and records the session from start to end', async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    const issued = (await ticket(vm.id, alice.headers)).json();
    expect(issued).toMatchObject({ readOnly: false, expiresIn: 30 });
    const { socket, received } = await connect(`${base}${issued.url}`);
    socket.send('echo hello-console\n');
    await vi.waitUntil(() => received().includes('echo hello-console'), { timeout: 5000, interval: 20 });
    // What the student typed reached the VM's console.
    expect(ctx.driver.console(vm.driverName).typed).toBe('echo hello-console\n');
    socket.close();
    await closed(alice.user.id);
    const events = (await ctx.services.repositories.audit.list({ limit: 10, offset: 0, action: 'console.*' })).rows;
    expect(events.map((e) => e.action).sort()).toEqual(['console.close', 'console.open', 'console.ticket']);
    expect(events.find((e) => e.action === 'console.open')).toMatchObject({ actorId: alice.user.id, targetId: vm.id });
  });

  it('refuses reused, expired, other-VM and other-kind tickets, and strangers', async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    const other = await makeLab(ctx, alice.user.id);
    const issued = (await ticket(vm.id, alice.headers)).json();
    const { socket } = await connect(`${base}${issued.url}`);
    socket.close();
    const reuse = await tryUpgrade(`${base}${issued.url}`);
    expect(reuse.status).toBe(401);
    const forOther = (await ticket(vm.id, alice.headers)).json();
    const wrongVm = await tryUpgrade(`${base}/api/v1/vms/${other.vm.id}/console/serial?ticket=${encodeURIComponent(forOther.ticket)}`);
    expect(wrongVm.status).toBe(401);
    const wrongKind = (await ticket(vm.id, alice.headers)).json();
    expect((await tryUpgrade(`${base}/api/v1/vms/${vm.id}/console/vnc?ticket=${encodeURIComponent(wrongKind.ticket)}`)).status).toBe(401);
    const expiring = (await ticket(vm.id, alice.headers)).json();
    await ctx.services.database.db.execute(`update access_tickets set expires_at = now() - interval '1 second'` as never);
    expect((await tryUpgrade(`${base}${expiring.url}`)).status).toBe(401);
    expect((await ticket(vm.id, bob.headers)).statusCode).toBe(404);
  });

  it('lets staff watch read-only, tells the student, and limits sessions per VM', async () => {
    const { vm, lab } = await makeLab(ctx, alice.user.id);
    const watch = (await ticket(vm.id, teacher.headers)).json();
    expect(watch.readOnly).toBe(true);
    const watcher = await connect(`${base}${watch.url}`);
    const student = await connect(`${base}${(await ticket(vm.id, alice.headers)).json().url}`);
    // Both sessions share the VM's one console (as on QEMU): the watcher sees what the student types.
    student.socket.send('whoami\n');
    await vi.waitUntil(() => watcher.received().includes('whoami'), { timeout: 5000, interval: 20 });
    const third = await tryUpgrade(`${base}${(await ticket(vm.id, alice.headers)).json().url}`);
    expect(third.status).toBe(429);
    // The watcher types, then leaves: once the server has closed its session it has handled the
    // message sent before the close, so whatever it did with it is visible now.
    watcher.socket.send('rm -rf /\n');
    watcher.socket.close();
    await closed(teacher.user.id);
    expect(ctx.driver.console(vm.driverName).typed).toBe('whoami\n');
    expect(student.received()).not.toContain('rm -rf');
    const events = (await ctx.services.repositories.events.since(0, 100)).filter(
      (e) => e.labId === lab.id && e.type === 'console.watching',
    );
    expect(events[0]?.data).toMatchObject({ watcher: teacher.user.username, watching: true, vm: 'box' });
    student.socket.close();
  });

  it('takes a slot only for an open socket: plain GETs with valid tickets neither spend the ticket nor take a slot', async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    // The VM allows 2 sessions here; six plain GETs (no upgrade) must not use them up.
    const tickets = [];
    for (let i = 0; i < 6; i++) {
      const issued = (await ticket(vm.id, alice.headers)).json();
      const plain = await ctx.app.inject({ url: issued.url });
      expect(plain.statusCode).toBe(426);
      tickets.push(issued);
    }
    expect(ctx.services.consoles.openSessions(vm.id)).toBe(0);
    // The tickets were not spent by the plain GETs: two of them open real consoles now.
    const first = await connect(`${base}${tickets[0].url}`);
    const second = await connect(`${base}${tickets[1].url}`);
    expect(ctx.services.consoles.openSessions(vm.id)).toBe(2);
    expect((await tryUpgrade(`${base}${tickets[2].url}`)).status).toBe(429);
    first.socket.close();
    await vi.waitUntil(() => ctx.services.consoles.openSessions(vm.id) === 1, { timeout: 2000, interval: 20 });
    const third = await connect(`${base}${tickets[3].url}`);
    third.socket.send('echo again\n');
    await vi.waitUntil(() => third.received().includes('echo again'), { timeout: 5000, interval: 20 });
    second.socket.close();
    third.socket.close();
    await vi.waitUntil(() => ctx.services.consoles.openSessions(vm.id) === 0, { timeout: 2000, interval: 20 });
  });

  it('closes a console the VM ended with 1000, or with 4403 when the lab is being deleted, whatever arrives first', async () => {
    // Stopping: the VM's end is an ordinary end.
    const stopping = await makeLab(ctx, alice.user.id);
    const first = await connect(`${base}${(await ticket(stopping.vm.id, alice.headers)).json().url}`);
    await ctx.services.repositories.labs.update(stopping.lab.id, { status: 'stopping' });
    await ctx.driver.stopVm(stopping.vm.driverName);
    expect(await first.closed).toBe(1000);
    // Deleting: the VM is destroyed before any revocation is announced (the race a deletion runs),
    // and the console still closes as revoked.
    const deleting = await makeLab(ctx, alice.user.id);
    const second = await connect(`${base}${(await ticket(deleting.vm.id, alice.headers)).json().url}`);
    await ctx.services.repositories.labs.update(deleting.lab.id, { status: 'deleting' });
    await ctx.driver.destroyVm(deleting.vm.driverName);
    expect(await second.closed).toBe(4403);
    await vi.waitUntil(() => ctx.services.consoles.openSessions(deleting.vm.id) === 0, { timeout: 2000, interval: 20 });
  });

  it('gives the slot back when the console cannot be opened', async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    const failing = vi.spyOn(ctx.driver, 'openConsole').mockRejectedValue(new Error('console socket is gone'));
    try {
      for (let i = 0; i < 3; i++) {
        const result = await tryUpgrade(`${base}${(await ticket(vm.id, alice.headers)).json().url}`);
        // The upgrade succeeded, then the server closed with "internal error" and freed the slot.
        expect(result.status).toBe(101);
        expect((await result.socket!.closed).code).toBe(1011);
      }
    } finally {
      failing.mockRestore();
    }
    expect(ctx.services.consoles.openSessions(vm.id)).toBe(0);
    const ok = await connect(`${base}${(await ticket(vm.id, alice.headers)).json().url}`);
    ok.socket.close();
  });

  it('spends no ticket on a request that fails validation', async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    const issued = (await ticket(vm.id, alice.headers)).json();
    const extra = await tryUpgrade(`${base}${issued.url}&extra=1`);
    expect(extra.status).toBe(400);
    const badKind = await tryUpgrade(`${base}/api/v1/vms/${vm.id}/console/telnet?ticket=${encodeURIComponent(issued.ticket)}`);
    expect(badKind.status).toBe(400);
    const ok = await connect(`${base}${issued.url}`);
    ok.socket.close();
  });

  it("checks a browser's Origin: this site and CTP_CORS_ORIGINS open, another site is refused, none is allowed", async () => {
    const { vm } = await makeLab(ctx, alice.user.id);
    const host = new URL(base).host;
    const attempt = async (origin?: string) => {
      const result = await tryUpgrade(`${base}${(await ticket(vm.id, alice.headers)).json().url}`, origin ? { origin } : {});
      result.socket?.ws.close();
      return result.status;
    };
    expect(await attempt('https://evil.example')).toBe(403);
    expect(await attempt('null')).toBe(403);
    expect(await attempt(`http://${host}`)).toBe(101);
    expect(await attempt('https://lms.example.edu')).toBe(101);
    expect(await attempt()).toBe(101);
    // The event stream checks the same way.
    const events = async (origin: string) => {
      const issued = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: alice.headers })).json();
      const result = await tryUpgrade(`${base}${issued.url}`, { origin });
      result.socket?.ws.close();
      return result.status;
    };
    expect(await events('https://evil.example')).toBe(403);
    expect(await events(`http://${host}`)).toBe(101);
  });
});
