import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { FakeDriver } from '@ctp/hypervisor';
import { createServices } from '../services.js';
import { testDatabase } from '../test-support/test-database.js';
import type { Host, HostList, LabDetail, LabEvent, LabTemplateConfig } from '@ctp/contracts';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

const ONE_VM: LabTemplateConfig = {
  version: 1,
  title: 'One box',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'box', image: 'demo-target', cpus: 1, memoryMiB: 128, nics: [{ network: 'lan' }] }],
};

// The local host: 2 CPUs, 1 GiB, 512 MiB kept for itself (the default): four 128 MiB labs fit.
// The clock that heartbeats and staleness checks read is the test's: time moves only when it says.
describe('hypervisor hosts (fake driver, real database)', () => {
  let ctx: TestContext;
  let now = new Date();
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let student: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;
  let localId: string;

  beforeAll(async () => {
    ctx = await createTestApp(
      { maxLabsPerUser: 20, hostName: 'test-host-a', hostHeartbeatSeconds: 3600, warmPoolReserveMiB: 0 },
      { background: true, infra: { hostCapacity: () => ({ cpus: 2, memoryMiB: 1024 }), clock: () => now } },
    );
    admin = await signedIn(ctx, 'admin');
    teacher = await signedIn(ctx, 'instructor');
    student = await signedIn(ctx, 'student');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: ONE_VM },
    });
    templateId = created.json().id;
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
    localId = (await ctx.services.hosts.ensureLocal())!;
  });
  afterAll(() => ctx.close());

  const list = async () => {
    const r = await ctx.app.inject({ url: '/api/v1/hosts', headers: admin.headers });
    expect(r.statusCode, r.body).toBe(200);
    return (r.json() as HostList).items;
  };
  const host = async (id: string) => (await list()).find((h) => h.id === id)!;
  const startLab = async (headers = student.headers) => {
    const r = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers, payload: { templateId } });
    expect(r.statusCode, r.body).toBe(202);
    return r.json().id as string;
  };
  const detail = async (id: string, headers = admin.headers) =>
    (await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers })).json() as LabDetail;
  const auditActions = async () =>
    (
      (await ctx.app.inject({ url: '/api/v1/audit?limit=200', headers: admin.headers })).json().items as {
        action: string;
        targetId: string;
      }[]
    ).map((e) => `${e.action} ${e.targetId}`);
  const endAll = async (ids: string[]) => {
    for (const id of ids) await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}`, headers: admin.headers });
    for (const id of ids) await waitForLab(ctx, admin.headers, id, (l) => l.status === 'deleted');
  };
  const metrics = async () => (await ctx.app.inject({ url: '/metrics' })).body;

  it('registers the local host once, idempotently by name, with the capacity and driver of the machine', async () => {
    await ctx.services.hosts.register();
    await ctx.services.hosts.heartbeat();
    const hosts = await list();
    expect(hosts).toHaveLength(1);
    expect(hosts[0]).toMatchObject({
      id: localId,
      name: 'test-host-a',
      state: 'up',
      driver: 'fake',
      accelerator: 'none',
      address: null,
      capacity: { cpus: 2, memoryMiB: 1024 },
      use: { cpus: 0, memoryMiB: 0 },
      labs: 0,
      vms: 0,
    });
    expect(hosts[0]!.capacity.diskBytes).toBeGreaterThan(0);
    expect((await auditActions()).filter((a) => a === `host.register ${localId}`)).toHaveLength(1);
    const one = await ctx.app.inject({ url: `/api/v1/hosts/${localId}`, headers: admin.headers });
    expect(one.json()).toMatchObject({ id: localId, name: 'test-host-a' });
  });

  it('lets only admins see and drain hosts; unknown and malformed ids get 404 and 400', async () => {
    for (const caller of [teacher, student]) {
      expect((await ctx.app.inject({ url: '/api/v1/hosts', headers: caller.headers })).statusCode).toBe(403);
      expect((await ctx.app.inject({ url: `/api/v1/hosts/${localId}`, headers: caller.headers })).statusCode).toBe(403);
      for (const action of ['drain', 'undrain'])
        expect(
          (await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/${action}`, headers: caller.headers })).statusCode,
        ).toBe(403);
    }
    expect((await host(localId)).state).toBe('up');
    const unknown = crypto.randomUUID();
    const missing = await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${unknown}/drain`, headers: admin.headers });
    expect(missing.statusCode).toBe(404);
    expect((await ctx.app.inject({ url: `/api/v1/hosts/${unknown}`, headers: admin.headers })).statusCode).toBe(404);
    const bad = await ctx.app.inject({ method: 'POST', url: '/api/v1/hosts/not-a-uuid/drain', headers: admin.headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('id');
  });

  it('places nothing new on a draining host (labs queue) and admits them when it is undrained; staff see the host, students do not', async () => {
    const drained = await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/drain`, headers: admin.headers });
    expect(drained.statusCode, drained.body).toBe(200);
    expect((drained.json() as Host).state).toBe('draining');
    const id = await startLab();
    expect(await detail(id)).toMatchObject({ status: 'queued', queuePosition: 1, host: null, hostUnreachable: false });
    const undrained = await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/undrain`, headers: admin.headers });
    expect(undrained.json()).toMatchObject({ state: 'up' });
    const running = await waitForLab(ctx, admin.headers, id, (l) => l.status === 'running');
    expect(running.host).toEqual({ id: localId, name: 'test-host-a', state: 'up' });
    const own = await detail(id, student.headers);
    expect(own.hostUnreachable).toBe(false);
    expect(own).not.toHaveProperty('host');
    expect(JSON.stringify(own)).not.toContain(localId);
    expect(await host(localId)).toMatchObject({ use: { cpus: 1, memoryMiB: 128 }, labs: 1, vms: 1 });
    const actions = await auditActions();
    expect(actions).toContain(`host.drain ${localId}`);
    expect(actions).toContain(`host.undrain ${localId}`);
    await endAll([id]);
  });

  it('marks a host that stopped heartbeating down, flags its labs, queues new ones, and brings it back on its next heartbeat', async () => {
    const id = await startLab();
    await waitForLab(ctx, admin.headers, id, (l) => l.status === 'running');
    // 29 s of silence is not yet down.
    now = new Date(now.getTime() + 29_000);
    expect(await ctx.services.hosts.checkStale()).toEqual([]);
    now = new Date(now.getTime() + 2_000);
    expect(await ctx.services.hosts.checkStale()).toEqual(['test-host-a']);
    expect(await ctx.services.hosts.checkStale()).toEqual([]);
    expect((await host(localId)).state).toBe('down');
    // The lab keeps its status; its users and staff see that its host is unreachable.
    expect(await detail(id, student.headers)).toMatchObject({ status: 'running', hostUnreachable: true });
    expect((await detail(id)).host).toMatchObject({ state: 'down' });
    const events = (await ctx.app.inject({ url: '/api/v1/events?since=0', headers: student.headers })).json().items as LabEvent[];
    expect(events.filter((e) => e.labId === id && e.type === 'lab.host').at(-1)?.data).toMatchObject({ hostUnreachable: true });
    expect(await auditActions()).toContain(`host.down ${localId}`);
    const scraped = await metrics();
    expect(scraped).toContain('ctp_host_up{host="test-host-a"} 0');
    expect(scraped).toContain('ctp_hosts{state="down"} 1');
    expect(scraped).toContain('ctp_host_down_total{host="test-host-a"} 1');
    // Nothing new goes to a down host.
    const waiting = await startLab();
    expect((await detail(waiting)).status).toBe('queued');

    await ctx.services.hosts.heartbeat();
    expect((await host(localId)).state).toBe('up');
    expect(await detail(id, student.headers)).toMatchObject({ status: 'running', hostUnreachable: false });
    await waitForLab(ctx, admin.headers, waiting, (l) => l.status === 'running');
    expect(await auditActions()).toContain(`host.up ${localId}`);
    expect(await metrics()).toContain('ctp_host_up{host="test-host-a"} 1');
    await endAll([id, waiting]);
  });

  it('keeps an admin’s drain across a host going down and coming back', async () => {
    await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/drain`, headers: admin.headers });
    now = new Date(now.getTime() + 60_000);
    expect(await ctx.services.hosts.checkStale()).toEqual(['test-host-a']);
    await ctx.services.hosts.heartbeat();
    expect((await host(localId)).state).toBe('draining');
    await ctx.services.hosts.register();
    expect((await host(localId)).state).toBe('draining');
    await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/undrain`, headers: admin.headers });
    expect((await host(localId)).state).toBe('up');
  });

  it('gives warm pool labs (which skip admission) the local host, and none while it drains', async () => {
    const setPool = (size: number) =>
      ctx.app.inject({ method: 'PUT', url: `/api/v1/templates/${templateId}/warm-pool`, headers: teacher.headers, payload: { size } });
    const live = async () => (await ctx.services.repositories.labs.poolLabs(templateId)).filter((l) => l.status !== 'deleted');
    await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/drain`, headers: admin.headers });
    expect((await setPool(1)).statusCode).toBe(200);
    expect(await ctx.services.warmPools.refill(templateId)).toMatchObject({ created: 0 });
    expect(await live()).toEqual([]);
    await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${localId}/undrain`, headers: admin.headers });
    await ctx.services.warmPools.refill(templateId);
    const [pooled] = await live();
    expect(pooled?.hostId).toBe(localId);
    expect((await ctx.services.repositories.labs.vmsOf(pooled!.id)).map((vm) => vm.hostId)).toEqual([localId]);
    await waitForLab(ctx, admin.headers, pooled!.id, (l) => l.status === 'running');
    expect((await setPool(0)).statusCode).toBe(200);
    await ctx.services.warmPools.refill(templateId);
    await waitForLab(ctx, admin.headers, pooled!.id, (l) => l.status === 'deleted');
  });

  it('spreads labs over two hosts by free memory and never gives a host more RAM than it may promise', async () => {
    // A second host with its own agent (its own queue and hypervisor), as another machine's would be: 1.5 GiB (1 GiB for labs).
    const agentB = createServices(
      { ...ctx.config, role: 'agent', hostName: 'test-host-b', hostAddress: 'http://10.0.0.2:8081' },
      await testDatabase(),
      { driver: new FakeDriver(), images: ctx.builtinImages, hostCapacity: () => ({ cpus: 4, memoryMiB: 1536 }), clock: () => now },
    );
    await agentB.startBackground();
    onTestFinished(() => agentB.stopBackground());
    const second = { id: (await agentB.hosts.ensureLocal())! };
    const ids: string[] = [];
    for (let i = 0; i < 13; i++) ids.push(await startLab(admin.headers));
    const views = await Promise.all(ids.map((id) => detail(id)));
    // 512 MiB on a, 1024 MiB on b: 4 + 8 labs of 128 MiB; the 13th waits.
    expect(views.filter((v) => v.status === 'queued')).toHaveLength(1);
    expect(views.at(-1)!.status).toBe('queued');
    const on = (hostId: string) => views.filter((v) => v.host?.id === hostId).length;
    expect(on(localId)).toBe(4);
    expect(on(second.id)).toBe(8);
    // Spread, not filled one after the other: b (more free) took the first, a took one before b was half full.
    expect(views[0]!.host?.id).toBe(second.id);
    expect(views.slice(0, 6).some((v) => v.host?.id === localId)).toBe(true);
    // Every VM lives on its lab's host.
    for (const v of views.filter((l) => l.host)) {
      const vms = await ctx.services.repositories.labs.vmsOf(v.id);
      expect(vms.map((vm) => vm.hostId)).toEqual([v.host!.id]);
    }
    // Metrics with a `host` label count each host's own VMs.
    for (const v of views.filter((l) => l.host)) await waitForLab(ctx, admin.headers, v.id, (l) => l.status === 'running');
    const scraped = await metrics();
    expect(scraped).toContain('ctp_vms{state="running",host="test-host-b"} 8');
    expect(scraped).toContain('ctp_vms{state="running",host="test-host-a"} 4');
    expect(scraped).toContain('ctp_host_vm_memory_allocated_bytes{host="test-host-b"} 1073741824');
    const hosts = await list();
    for (const h of hosts) expect(h.use.memoryMiB).toBeLessThanOrEqual(h.capacity.memoryMiB - 512);
    expect(hosts.find((h) => h.id === second.id)).toMatchObject({ labs: 8, use: { memoryMiB: 1024 }, address: 'http://10.0.0.2:8081' });
    // Draining b and ending one of a's labs: the queued lab goes to a.
    await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${second.id}/drain`, headers: admin.headers });
    await endAll([views.find((v) => v.host?.id === localId)!.id]);
    const last = await waitForLab(ctx, admin.headers, ids.at(-1)!, (l) => l.status !== 'queued');
    expect(last.host?.id).toBe(localId);
    // The admission status sums the `up` hosts only (b drains).
    const status = (await ctx.app.inject({ url: '/api/v1/system/admission', headers: admin.headers })).json();
    expect(status).toMatchObject({ hostCpus: 2, hostMemoryMiB: 1024, memoryLimitMiB: 512 });
    expect(await metrics()).toContain('ctp_host_used_memory_bytes{host="test-host-b"} 1073741824');
  });
});
