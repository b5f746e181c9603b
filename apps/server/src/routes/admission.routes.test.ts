import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionStatus, Lab, LabDetail, LabEvent, LabTemplateConfig } from '@ctp/contracts';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

const ONE_VM: LabTemplateConfig = {
  version: 1,
  title: 'One box',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'box', image: 'demo-target', cpus: 1, memoryMiB: 128, nics: [{ network: 'lan' }] }],
};

// A host of 1 CPU and 1 GiB (512 MiB kept for itself): small enough that a class queues.
describe('admission control (fake driver, a small host)', () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    ctx = await createTestApp({ maxLabsPerUser: 10 }, { background: true, infra: { hostCapacity: () => ({ cpus: 1, memoryMiB: 1024 }) } });
    admin = await signedIn(ctx, 'admin');
    teacher = await signedIn(ctx, 'instructor');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: ONE_VM },
    });
    templateId = created.json().id;
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
  });
  afterAll(() => ctx.close());

  const setRatios = (headers: Record<string, string>, payload: object) =>
    ctx.app.inject({ method: 'PUT', url: '/api/v1/system/admission', headers, payload });
  const status = async () => (await ctx.app.inject({ url: '/api/v1/system/admission', headers: admin.headers })).json() as AdmissionStatus;

  it('lets only admins set the ratios, with reasons for bad values, and audits the change', async () => {
    expect((await setRatios(teacher.headers, { cpuOvercommit: 2, memoryOvercommit: 1, reservedMemoryMiB: 512 })).statusCode).toBe(403);
    const bad = await setRatios(admin.headers, { cpuOvercommit: -1, memoryOvercommit: 1, reservedMemoryMiB: 512 });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('cpuOvercommit');
    expect((await setRatios(admin.headers, { cpuOvercommit: 2 })).statusCode).toBe(400);
    const set = await setRatios(admin.headers, { cpuOvercommit: 2, memoryOvercommit: 1, reservedMemoryMiB: 512 });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ hostCpus: 1, hostMemoryMiB: 1024, cpuLimit: 2, memoryLimitMiB: 512, usedCpus: 0, queued: 0 });
    const audit = await ctx.app.inject({ url: '/api/v1/audit?limit=50', headers: admin.headers });
    expect((audit.json().items as { action: string }[]).map((e) => e.action)).toContain('system.admission');
  });

  it('queues a class larger than the host in FIFO order, with positions, and starts them in order as labs end; nothing overcommitted', async () => {
    await setRatios(admin.headers, { cpuOvercommit: 2, memoryOvercommit: 1, reservedMemoryMiB: 512 });
    const students: Awaited<ReturnType<typeof signedIn>>[] = [];
    for (let i = 0; i < 5; i++) students.push(await signedIn(ctx, 'student'));
    // The burst: everyone presses start at once.
    const created = await Promise.all(
      students.map((s) => ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: s.headers, payload: { templateId } })),
    );
    for (const r of created) expect(r.statusCode, r.body).toBe(202);
    const labs = created.map((r) => r.json() as Lab);
    // Never more than the limit held, whatever the moment: sampled all along.
    let overcommitted = false;
    let sampling = true;
    // (It stops with the test, passed or failed: a failing assertion below ends the app.)
    const sampler = (async () => {
      while (sampling) {
        const s = await status();
        const running = (await ctx.driver.listVms()).filter((vm) => vm.state === 'running').length;
        if (s.usedCpus > s.cpuLimit || s.usedMemoryMiB > s.memoryLimitMiB || running > 2) overcommitted = true;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })().catch(() => {
      sampling = false;
    });
    // The queue's order is the order of the requests (creation time, then id).
    const order = [...labs].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
    const detail = async (lab: Lab) => {
      const owner = students[labs.indexOf(lab)]!;
      return (await ctx.app.inject({ url: `/api/v1/labs/${lab.id}`, headers: owner.headers })).json() as LabDetail;
    };
    const queuedIds = async () => {
      const all = await Promise.all(labs.map(detail));
      return all.filter((l) => l.status === 'queued').sort((a, b) => a.queuePosition! - b.queuePosition!);
    };
    let queued = await queuedIds();
    expect(queued.map((l) => l.queuePosition)).toEqual([1, 2, 3]);
    const admitted = labs.filter((l) => !queued.some((q) => q.id === l.id));
    expect(admitted).toHaveLength(2);
    for (const lab of admitted) await waitForLab(ctx, students[labs.indexOf(lab)]!.headers, lab.id, (l) => l.status === 'running');
    // The queue keeps its order: the earliest requests wait least (the burst's order is the server's).
    const waiting = queued.map((l) => l.id);
    expect(order.filter((l) => waiting.includes(l.id)).map((l) => l.id)).toEqual(waiting);
    // A student sees their own position in the lab's events.
    const third = labs.find((l) => l.id === waiting[2])!;
    const thirdOwner = students[labs.indexOf(third)]!;
    const events = (await ctx.app.inject({ url: '/api/v1/events?since=0', headers: thirdOwner.headers })).json().items as LabEvent[];
    expect(events.filter((e) => e.type === 'lab.queued').at(-1)?.data).toMatchObject({ position: 3 });

    // Labs end one by one: the head of the queue starts each time, the others move up.
    const startedOrder: string[] = [];
    const ending = [...admitted];
    while (waiting.length) {
      const done = ending.shift()!;
      const owner = students[labs.indexOf(done)]!;
      const del = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${done.id}`, headers: owner.headers });
      expect(del.statusCode, del.body).toBe(202);
      const nextId = waiting.shift();
      const next = labs.find((l) => l.id === nextId)!;
      await waitForLab(ctx, students[labs.indexOf(next)]!.headers, next.id, (l) => l.status === 'running');
      startedOrder.push(next.id);
      ending.push(next);
      queued = await queuedIds();
      expect(queued.map((l) => l.id)).toEqual(waiting);
      expect(queued.map((l) => l.queuePosition)).toEqual(waiting.map((_, i) => i + 1));
      const later = (await ctx.app.inject({ url: '/api/v1/events?since=0', headers: thirdOwner.headers })).json().items as LabEvent[];
      if (waiting.includes(third.id))
        expect(later.filter((e) => e.type === 'lab.queued').at(-1)?.data).toMatchObject({ position: waiting.indexOf(third.id) + 1 });
    }
    expect(startedOrder).toEqual(order.filter((l) => !admitted.includes(l)).map((l) => l.id));
    sampling = false;
    await sampler;
    expect(overcommitted).toBe(false);
    for (const lab of ending) {
      const owner = students[labs.indexOf(lab)]!;
      await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: owner.headers });
      await waitForLab(ctx, owner.headers, lab.id, (l) => l.status === 'deleted');
    }
    expect(await status()).toMatchObject({ usedCpus: 0, usedMemoryMiB: 0, queued: 0 });
  });

  it('never overcommits RAM beyond its ratio, even with CPUs to spare; a queued lab can be deleted and leaves the queue', async () => {
    await setRatios(admin.headers, { cpuOvercommit: 10, memoryOvercommit: 1, reservedMemoryMiB: 768 });
    // 256 MiB for labs, 128 MiB each: two fit, the third waits on memory alone.
    const s = await signedIn(ctx, 'student');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: s.headers, payload: { templateId } });
      expect(r.statusCode, r.body).toBe(202);
      ids.push(r.json().id);
    }
    const views = await Promise.all(
      ids.map(async (id) => (await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers: s.headers })).json()),
    );
    expect(views.map((v: LabDetail) => v.status === 'queued')).toEqual([false, false, true, true]);
    expect((await status()).usedMemoryMiB).toBeLessThanOrEqual(256);
    // Leaving the queue: deleted at once; the lab behind moves up.
    const left = await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${ids[2]}`, headers: s.headers });
    expect(left.statusCode, left.body).toBe(202);
    expect(left.json().status).toBe('deleted');
    const last = (await ctx.app.inject({ url: `/api/v1/labs/${ids[3]}`, headers: s.headers })).json() as LabDetail;
    expect(last).toMatchObject({ status: 'queued', queuePosition: 1 });
    // Raising the ratio lets it start at once.
    await setRatios(admin.headers, { cpuOvercommit: 10, memoryOvercommit: 1.5, reservedMemoryMiB: 768 });
    await waitForLab(ctx, s.headers, ids[3]!, (l) => l.status === 'running');
  });

  it('refuses at once, with the reason, instead of queueing when the admin turned queueing off', async () => {
    // Room for exactly one more 128 MiB lab beside what earlier tests left running.
    const used = (await status()).usedMemoryMiB;
    const tight = { cpuOvercommit: 10, memoryOvercommit: 1, reservedMemoryMiB: 1024 - used - 128 };
    expect((await setRatios(admin.headers, { ...tight, queueWhenFull: 'no' })).statusCode).toBe(400);
    const set = await setRatios(admin.headers, { ...tight, queueWhenFull: false });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().settings.queueWhenFull).toBe(false);
    const s = await signedIn(ctx, 'student');
    const first = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: s.headers, payload: { templateId } });
    expect(first.statusCode, first.body).toBe(202);
    expect(first.json().status).not.toBe('queued');
    const refused = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: s.headers, payload: { templateId } });
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.json().error).toMatchObject({
      code: 'no_capacity',
      message: 'No host has room for this lab now, and this platform does not queue labs: try again later',
    });
    // Nothing waits, nothing is held: the student has the one lab, and the refusal is on record.
    const theirs = (await ctx.app.inject({ url: '/api/v1/labs', headers: s.headers })).json().items as Lab[];
    expect(theirs.map((l) => l.id)).toEqual([first.json().id]);
    expect((await status()).queued).toBe(0);
    const audit = (await ctx.app.inject({ url: '/api/v1/audit?action=lab.create', headers: admin.headers })).json().items as {
      outcome: string;
      statusCode: number | null;
    }[];
    expect(audit[0]).toMatchObject({ outcome: 'failure', statusCode: 503 });
    // Queueing on again: the same request waits its turn with a position.
    await setRatios(admin.headers, { ...tight, queueWhenFull: true });
    const queued = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: s.headers, payload: { templateId } });
    expect(queued.statusCode).toBe(202);
    expect(queued.json()).toMatchObject({ status: 'queued', queuePosition: 1 });
    await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${queued.json().id}`, headers: s.headers });
  });

  it('refuses a lab that could never fit, with the reason', async () => {
    await setRatios(admin.headers, { cpuOvercommit: 0.5, memoryOvercommit: 1, reservedMemoryMiB: 512 });
    const s = await signedIn(ctx, 'student');
    const r = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: s.headers, payload: { templateId } });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: 'exceeds_capacity' });
    expect(r.json().error.message).toContain('at most 0 vCPUs');
  });
});
