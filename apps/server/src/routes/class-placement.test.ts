import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabDetail } from '@ctp/contracts';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { CLASS_TEMPLATE, hostShares, registerSimulatedHosts, studentTokens, type HostShare } from '../test-support/simulated-class.js';

// The properties the class simulation (bench/class-simulation.bench.ts, 200 students over 10
// hosts) relies on, at a scale a test can afford: 4 equal hosts of 16 CPUs and 40 GiB, with the
// ratios an admin would set for labs (4 vCPUs per core, RAM never overcommitted, 4 GiB kept per
// host): (40960 − 4096) / 3072 = 12 class labs of 3 vCPUs and 3 GiB fit on each host.
const HOST = { cpus: 16, memoryMiB: 40_960, diskBytes: 2 * 2 ** 40 };
const PER_HOST = 12;

describe('placing a class over several hosts (fake driver, real database)', () => {
  let ctx: TestContext;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;
  let hosts: Map<string, string>;

  beforeAll(async () => {
    ctx = await createTestApp(
      // The simulated hosts heartbeat only when told: nothing goes `down` during the test.
      { hostName: 'sim-01', hostHeartbeatSeconds: 3600, hostDownAfterSeconds: 3600, warmPoolReserveMiB: 0 },
      { background: true, infra: { hostCapacity: () => ({ cpus: HOST.cpus, memoryMiB: HOST.memoryMiB }) } },
    );
    admin = await signedIn(ctx, 'admin');
    const teacher = await signedIn(ctx, 'instructor');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: CLASS_TEMPLATE },
    });
    expect(created.statusCode, created.body).toBe(201);
    templateId = created.json().id;
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
    const ratios = { cpuOvercommit: 4, memoryOvercommit: 1, reservedMemoryMiB: 4096 };
    expect(
      (await ctx.app.inject({ method: 'PUT', url: '/api/v1/system/admission', headers: admin.headers, payload: ratios })).statusCode,
    ).toBe(200);
    hosts = await registerSimulatedHosts(ctx.services, 4, HOST);
  });
  afterAll(() => ctx.close());

  const request = (student: { headers: Record<string, string> }) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
  const detail = async (id: string) => (await ctx.app.inject({ url: `/api/v1/labs/${id}`, headers: admin.headers })).json() as LabDetail;
  const byName = (shares: HostShare[]) => Object.fromEntries(shares.map((s) => [s.name, s]));
  const until = async (done: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('places every lab of a 40-student burst on exactly one host with all its VMs, spread evenly, never past a host’s limits', async () => {
    const students = await studentTokens(ctx.services, 40, 'burst');
    // Sampled all along the burst: no host ever holds more than it may promise.
    const over: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (const h of await hostShares(ctx.services))
          if (h.usedMemoryMiB > h.memoryLimitMiB || h.usedCpus > h.cpuLimit)
            over.push(`${h.name}: ${h.usedCpus} vCPUs, ${h.usedMemoryMiB} MiB`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const answers = await Promise.all(students.map(request));
    for (const a of answers) expect(a.statusCode, a.body).toBe(202);
    const ids = answers.map((a) => a.json().id as string);
    await until(
      async () => (await Promise.all(ids.map((id) => ctx.services.repositories.labs.findById(id)))).every((l) => l?.status === 'running'),
      'every lab running',
    );
    sampling = false;
    await sampler;
    expect(over).toEqual([]);
    for (const id of ids) {
      const lab = (await ctx.services.repositories.labs.findById(id))!;
      expect([...hosts.values()]).toContain(lab.hostId);
      const vms = await ctx.services.repositories.labs.vmsOf(id);
      expect(vms.map((vm) => vm.hostId)).toEqual([lab.hostId, lab.hostId]);
    }
    // Equal hosts, most free memory first: the labs spread, 10 on each.
    const shares = await hostShares(ctx.services);
    expect(shares.map((s) => [s.name, s.labs, s.vms, s.usedCpus, s.usedMemoryMiB])).toEqual(
      ['sim-01', 'sim-02', 'sim-03', 'sim-04'].map((name) => [name, 10, 20, 30, 30_720]),
    );
    expect((await ctx.driver.listVms()).filter((vm) => vm.state === 'running')).toHaveLength(80);
  });

  it('queues past capacity in request order with positions, gives a drained host nothing, and admits in order as room appears', async () => {
    const drained = hosts.get('sim-04')!;
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${drained}/drain`, headers: admin.headers })).statusCode).toBe(200);
    // Three hosts with 2 free places each: of 10 late students (one after the other), 6 start, 4 wait.
    const late = await studentTokens(ctx.services, 10, 'late');
    const ids: string[] = [];
    for (const student of late) ids.push((await request(student)).json().id);
    const views = await Promise.all(ids.map(detail));
    expect(views.map((v) => v.status === 'queued')).toEqual([...Array(6).fill(false), ...Array(4).fill(true)]);
    expect(views.slice(6).map((v) => v.queuePosition)).toEqual([1, 2, 3, 4]);
    // The student sees their own position too.
    const own = await ctx.app.inject({ url: `/api/v1/labs/${ids[8]}`, headers: late[8]!.headers });
    expect(own.json()).toMatchObject({ status: 'queued', queuePosition: 3 });
    let shares = byName(await hostShares(ctx.services));
    expect(shares['sim-04']).toMatchObject({ state: 'draining', labs: 10 });
    for (const name of ['sim-01', 'sim-02', 'sim-03']) expect(shares[name]!.labs).toBe(PER_HOST);
    // Two labs on sim-01 end: the first two in the queue take their places there, the others move up.
    const onFirst = (await ctx.services.repositories.labs.list({ limit: 100, offset: 0, status: 'running' })).rows
      .filter((l) => l.hostId === hosts.get('sim-01'))
      .slice(0, 2);
    for (const lab of onFirst)
      expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: admin.headers })).statusCode).toBe(202);
    await until(async () => (await detail(ids[7]!)).status !== 'queued', 'the second queued lab to start');
    const moved = await Promise.all(ids.slice(6).map(detail));
    expect(moved.map((v) => [v.status === 'queued', v.queuePosition])).toEqual([
      [false, null],
      [false, null],
      [true, 1],
      [true, 2],
    ]);
    expect(moved.slice(0, 2).map((v) => v.host?.name)).toEqual(['sim-01', 'sim-01']);
    shares = byName(await hostShares(ctx.services));
    expect(shares['sim-04']!.labs).toBe(10);
    // Undrained, sim-04 takes the rest (2 free places), in order.
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/hosts/${drained}/undrain`, headers: admin.headers })).statusCode).toBe(
      200,
    );
    await until(async () => (await detail(ids[9]!)).status !== 'queued', 'the last queued lab to start');
    expect((await Promise.all(ids.slice(8).map(detail))).map((v) => v.host?.name)).toEqual(['sim-04', 'sim-04']);
    expect(byName(await hostShares(ctx.services))['sim-04']!.labs).toBe(PER_HOST);
  });
});
