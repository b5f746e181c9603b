import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabDetail, LabEvent } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages, qemuLeftovers, SerialReader, testAcceleratorCache } from '@ctp/hypervisor/test-support';
import { createImageCatalog } from '../services/image-catalog.js';
import { openWebSocketStream, rfbFirstUpdate } from '../test-support/console-client.js';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { CLOSE_ACCESS_REVOKED, CLOSE_SESSION_ENDED } from '../services/sessions.service.js';
import { createPeerApp, createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';
import { openSocket } from '../test-support/ws-client.js';

// The demo lab on real QEMU guests, driven only through the HTTP and WebSocket API.
// Booting takes seconds on TCG and much longer on a busy host: each test waits up to 90 s for its guests.
describe('labs on real QEMU', { timeout: 180_000 }, () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-labs-qemu-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.attacker.kernel,
    acceleratorCacheFile: testAcceleratorCache(),
  });
  let ctx: TestContext;
  let base: string;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  let bob: Awaited<ReturnType<typeof signedIn>>;
  const consoles: SerialReader[] = [];

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true, infra: { driver, images: createImageCatalog(DEMO_IMAGES_DIR) } });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    alice = await signedIn(ctx, 'student');
    bob = await signedIn(ctx, 'student');
  });
  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    driver.close();
    await ctx.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** Opens a VM's serial console through a ticket and the WebSocket bridge. */
  const serial = async (headers: Record<string, string>, vmId: string) => {
    const ticket = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers,
      payload: { kind: 'serial' },
    });
    expect(ticket.statusCode, ticket.body).toBe(201);
    const reader = new SerialReader(await openWebSocketStream(`${base}${ticket.json().url}`));
    consoles.push(reader);
    return reader;
  };
  const vmOf = (lab: LabDetail, name: string) => lab.vms.find((vm) => vm.name === name)!;
  let labA: LabDetail;
  let labB: LabDetail;

  it('starts the demo lab for a student, live over the WebSocket, until its guests are ready', async () => {
    const ticket = (await ctx.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: alice.headers })).json();
    const socket = new WebSocket(`${base}${ticket.url}`);
    const events: LabEvent[] = [];
    socket.onmessage = (m) => {
      const data = JSON.parse(String(m.data));
      if (data.type !== 'ready') events.push(data);
    };
    await new Promise((resolve) => (socket.onopen = resolve));
    const templateId = await demoTemplateId(ctx);
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: alice.headers, payload: { templateId } });
    expect(created.statusCode).toBe(202);
    labA = await waitForLab(ctx, alice.headers, created.json().id, (l) => l.status === 'running', 90_000);
    await expect.poll(() => events.some((e) => e.type === 'lab.status' && e.data.status === 'running'), { timeout: 10_000 }).toBe(true);
    socket.close();
    expect(labA.steps.every((s) => s.status === 'done')).toBe(true);
    const attacker = await serial(alice.headers, vmOf(labA, 'attacker').id);
    const target = await serial(alice.headers, vmOf(labA, 'target').id);
    await attacker.waitFor('CTP-READY attacker attacker', 90_000);
    await target.waitFor('CTP-READY target target', 90_000);
  });

  it('carries a command and its output through the serial bridge, and a picture through VNC', async () => {
    const attacker = await serial(alice.headers, vmOf(labA, 'attacker').id);
    const word = `w${Math.random().toString(36).slice(2, 10)}`;
    expect(await attacker.run(`echo ${word} | rev`)).toContain([...word].reverse().join(''));
    const ticket = (
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/vms/${vmOf(labA, 'attacker').id}/console-tickets`,
        headers: alice.headers,
        payload: { kind: 'vnc' },
      })
    ).json();
    const vnc = await openWebSocketStream(`${base}${ticket.url}`);
    const update = await rfbFirstUpdate(vnc);
    expect(update.width).toBeGreaterThan(0);
    expect(update.rectangles).toBeGreaterThan(0);
    vnc.destroy();
  });

  it("lets an instructor watch a student's console without typing into the guest", async () => {
    const teacher = await signedIn(ctx, 'instructor');
    await teach(ctx, teacher.user.id, [alice.user.id]);
    const vmId = vmOf(labA, 'attacker').id;
    const watch = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers: teacher.headers,
      payload: { kind: 'serial' },
    });
    expect(watch.json().readOnly).toBe(true);
    const watcherStream = await openWebSocketStream(`${base}${watch.json().url}`);
    const watcher = new SerialReader(watcherStream);
    const student = await serial(alice.headers, vmId);
    // The student's typing runs in the guest, and the watcher sees it.
    expect(await student.run('echo student-$((6*7))')).toContain('student-42');
    await watcher.waitFor('student-42', 10_000);
    // The watcher types a command and leaves; once the server has closed its session, it has
    // handled everything the watcher sent before.
    watcherStream.write('touch /root/watcher-was-here\n');
    watcher.close();
    await expect
      .poll(
        async () =>
          (await ctx.services.repositories.audit.list({ limit: 10, offset: 0, action: 'console.close', actorId: teacher.user.id })).total,
        { timeout: 10_000 },
      )
      .toBe(1);
    const listing = await student.run('ls -a /root; echo listed');
    expect(listing).toContain('listed');
    expect(listing).not.toContain('watcher-was-here');
    student.close();
  });

  it("runs a second student's lab at the same time, on its own segment", async () => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/labs',
      headers: bob.headers,
      payload: { templateId: await demoTemplateId(ctx) },
    });
    labB = await waitForLab(ctx, bob.headers, created.json().id, (l) => l.status === 'running', 90_000);
    const bobAttacker = await serial(bob.headers, vmOf(labB, 'attacker').id);
    await bobAttacker.waitFor('CTP-READY attacker', 90_000);
    const bobTarget = await serial(bob.headers, vmOf(labB, 'target').id);
    await bobTarget.waitFor('CTP-READY target', 90_000);
    const aliceAttacker = await serial(alice.headers, vmOf(labA, 'attacker').id);
    // Both labs use 10.0.0.20 for their target; each attacker reaches only its own lab's.
    const prefix = (id: string) => `l${id.replaceAll('-', '').slice(0, 16)}`;
    expect(await aliceAttacker.run('wget -qO- http://10.0.0.20/')).toContain(`Lab ${prefix(labA.id)}`);
    expect(await bobAttacker.run('wget -qO- http://10.0.0.20/')).toContain(`Lab ${prefix(labB.id)}`);
    // An address only Bob's lab has: reachable inside his lab, not from Alice's.
    await bobTarget.run('ip addr add 10.0.0.99/24 dev $(ls /sys/class/net | grep -v lo | head -1)');
    // (busybox nc with a timeout: the guests' wget crashes with -T.)
    const get99 = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.0.0.99 80; echo tried`;
    expect(await bobAttacker.run(get99)).toContain(`Lab ${prefix(labB.id)}`);
    expect(await aliceAttacker.run(get99)).not.toContain('Welcome');
    expect(await aliceAttacker.run('ping -c 2 -w 3 10.0.0.99 >/dev/null 2>&1; echo rc=$?')).toContain('rc=1');
    // And one student cannot reach the other's VMs through the API either.
    const denied = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmOf(labA, 'attacker').id}/console-tickets`,
      headers: bob.headers,
      payload: { kind: 'serial' },
    });
    expect(denied.statusCode).toBe(404);
  });

  it("closes a revoked user's real console and event sockets within 2 s, on this instance and another", async () => {
    // A second API instance on the same database and hypervisor (see revocation.test.ts for what
    // each database pass proves); the revocations are made through the first.
    const peer = await createPeerApp(ctx);
    try {
      const admin = await signedIn(ctx, 'admin');
      const [carol, dan, erin, fay] = [
        await signedIn(ctx, 'student'),
        await signedIn(ctx, 'instructor'),
        await signedIn(ctx, 'student'),
        await signedIn(ctx, 'student'),
      ];
      for (const who of [carol, dan, erin, fay]) {
        const added = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/labs/${labA.id}/members`,
          headers: alice.headers,
          payload: { userId: who.user.id },
        });
        expect(added.statusCode, added.body).toBe(200);
      }
      const vmId = vmOf(labA, 'target').id;
      /** A serial console of the running guest that really runs a command. */
      const liveConsole = async (app: TestContext, wsBase: string, who: typeof carol) => {
        const ticket = await app.app.inject({
          method: 'POST',
          url: `/api/v1/vms/${vmId}/console-tickets`,
          headers: who.headers,
          payload: { kind: 'serial' },
        });
        const socket = await openSocket(`${wsBase}${ticket.json().url}`);
        socket.ws.send('echo rv$((6*7))\n');
        await expect.poll(() => socket.received().includes('rv42'), { timeout: 10_000 }).toBe(true);
        return socket;
      };
      const eventStream = async (app: TestContext, wsBase: string, who: typeof carol) => {
        const ticket = (await app.app.inject({ method: 'POST', url: '/api/v1/events/tickets', headers: who.headers })).json();
        const socket = await openSocket(`${wsBase}${ticket.url}`);
        await expect.poll(() => socket.received().includes('"ready"'), { timeout: 5000 }).toBe(true);
        return socket;
      };
      const cases = [
        {
          who: carol,
          code: CLOSE_ACCESS_REVOKED,
          act: () => ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${labA.id}/members/${carol.user.id}`, headers: alice.headers }),
        },
        {
          who: dan,
          code: CLOSE_SESSION_ENDED,
          act: () =>
            ctx.app.inject({ method: 'PATCH', url: `/api/v1/users/${dan.user.id}`, headers: admin.headers, payload: { role: 'student' } }),
        },
        {
          who: erin,
          code: CLOSE_SESSION_ENDED,
          act: () =>
            ctx.app.inject({ method: 'PATCH', url: `/api/v1/users/${erin.user.id}`, headers: admin.headers, payload: { disabled: true } }),
        },
        {
          who: fay,
          code: CLOSE_SESSION_ENDED,
          act: () =>
            ctx.app.inject({
              method: 'POST',
              url: `/api/v1/users/${fay.user.id}/password`,
              headers: admin.headers,
              payload: { password: 'an entirely new one' },
            }),
        },
      ];
      for (const { who, code, act } of cases) {
        const sockets = [
          await liveConsole(ctx, base, who),
          await liveConsole(peer, peer.base, who),
          await eventStream(ctx, base, who),
          await eventStream(peer, peer.base, who),
        ];
        const actedAt = Date.now();
        expect([200, 204]).toContain((await act()).statusCode);
        for (const socket of sockets) {
          const closed = await Promise.race([
            socket.closed,
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000)),
          ]);
          expect(closed?.code, `closed within 2 s with ${code}`).toBe(code);
          expect(closed!.at - actedAt).toBeLessThan(2000);
        }
        for (const app of [ctx, peer]) {
          const me = await app.app.inject({ url: '/api/v1/auth/me', headers: who.headers });
          expect(me.statusCode).toBe(code === CLOSE_SESSION_ENDED ? 401 : 200);
          const lab = await app.app.inject({ url: `/api/v1/labs/${labA.id}`, headers: who.headers });
          expect(lab.statusCode).toBe(code === CLOSE_SESSION_ENDED ? 401 : 404);
        }
      }
      await expect
        .poll(() => ctx.services.consoles.openSessions(vmId) + peer.services.consoles.openSessions(vmId) <= 1, { timeout: 2000 })
        .toBe(true);
    } finally {
      await peer.close();
    }
  });

  it('resets a changed VM to its initial state', async () => {
    const attacker = await serial(alice.headers, vmOf(labA, 'attacker').id);
    expect(await attacker.run('echo broken > /root/damage && ls /root')).toContain('damage');
    attacker.close();
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${labA.id}/reset`, headers: alice.headers })).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, labA.id, (l) => l.status === 'running' && l.steps[0]!.name.startsWith('Revert'), 60_000);
    // The initial snapshot is the fresh disk: the guest boots again, clean.
    const after = await serial(alice.headers, vmOf(labA, 'attacker').id);
    await after.waitFor('CTP-READY attacker attacker', 90_000);
    const listing = await after.run('ls /root; echo listed');
    expect(listing).toContain('listed');
    expect(listing).not.toContain('damage');
  });

  it('deletes the labs and leaves nothing behind', async () => {
    for (const c of consoles) c.close();
    for (const [lab, who] of [
      [labA, alice],
      [labB, bob],
    ] as const) {
      expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: who.headers })).statusCode).toBe(202);
      const deleted = await waitForLab(ctx, who.headers, lab.id, (l) => l.status === 'deleted', 60_000);
      expect(deleted.vms.every((vm) => vm.status === 'deleted')).toBe(true);
    }
    driver.close();
    expect(qemuLeftovers(stateDir)).toEqual([]);
    expect(await driver.listNetworks()).toEqual([]);
  });
});
