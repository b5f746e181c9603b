import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDriver } from '@ctp/hypervisor';
import type { LabDetail, LabTemplateConfig } from '@ctp/contracts';
import { createServices, type Services } from '../services.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { testDatabase } from '../test-support/test-database.js';

const ONE_VM: LabTemplateConfig = {
  version: 1,
  title: 'One box',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'box', image: 'demo-target', cpus: 1, memoryMiB: 128, nics: [{ network: 'lan' }] }],
};

interface Agent {
  name: string;
  driver: FakeDriver;
  services: Services;
  hostId: string;
}

// One API process (`CTP_ROLE=api`) and two agents (`CTP_ROLE=agent`), each with its own job queue
// and its own (fake) hypervisor, on one database, as three processes on three machines would be.
// Each host gives labs 128 MiB (640 MiB less the 512 MiB reserve): one lab per host.
describe('hypervisor agents: per-host queues and reconciliation (fake driver, real database, real pg-boss)', () => {
  let api: TestContext;
  const agents: Agent[] = [];
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let student: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    api = await createTestApp({ role: 'api', maxLabsPerUser: 10, hostHeartbeatSeconds: 3600 }, { background: true });
    for (const name of ['agent-a', 'agent-b']) {
      const driver = new FakeDriver();
      const services = createServices({ ...api.config, role: 'agent', hostName: name }, await testDatabase(), {
        driver,
        images: api.builtinImages,
        hostCapacity: () => ({ cpus: 2, memoryMiB: 640 }),
        guestReady: async () => {},
      });
      await services.startBackground();
      agents.push({ name, driver, services, hostId: (await services.hosts.ensureLocal())! });
    }
    admin = await signedIn(api, 'admin');
    student = await signedIn(api, 'student');
    const teacher = await signedIn(api, 'instructor');
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: ONE_VM },
    });
    templateId = created.json().id;
    await api.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: teacher.headers });
  });
  afterAll(async () => {
    for (const agent of agents) await agent.services.stopBackground();
    await api.close();
  });

  const startLab = async () => {
    const r = await api.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } });
    expect(r.statusCode, r.body).toBe(202);
    return r.json().id as string;
  };
  const detail = async (id: string) => (await api.app.inject({ url: `/api/v1/labs/${id}`, headers: admin.headers })).json() as LabDetail;
  const vmNames = (driver: FakeDriver) => [...driver.vms.keys()].sort();
  const driverNamesOf = async (labId: string) => (await api.services.repositories.labs.vmsOf(labId)).map((vm) => vm.driverName).sort();

  it('the API registers no host of its own; each agent registers its host', async () => {
    const hosts = (await api.app.inject({ url: '/api/v1/hosts', headers: admin.headers })).json().items as {
      name: string;
      state: string;
    }[];
    expect(hosts.map((h) => `${h.name} ${h.state}`).sort()).toEqual(['agent-a up', 'agent-b up']);
  });

  it("runs each lab only on its host's agent: its VMs exist in that host's hypervisor and nowhere else", async () => {
    const first = await startLab();
    const second = await startLab();
    const third = await startLab();
    const [a, b] = [
      await waitForLab(api, admin.headers, first, (l) => l.status === 'running'),
      await waitForLab(api, admin.headers, second, (l) => l.status === 'running'),
    ];
    expect(new Set([a.host?.id, b.host?.id])).toEqual(new Set(agents.map((agent) => agent.hostId)));
    // Both hosts are full: the third waits, with no host.
    expect(await detail(third)).toMatchObject({ status: 'queued', queuePosition: 1, host: null });
    for (const [lab, labId] of [
      [a, first],
      [b, second],
    ] as const) {
      const own = agents.find((agent) => agent.hostId === lab.host!.id)!;
      const other = agents.find((agent) => agent !== own)!;
      expect(vmNames(own.driver)).toEqual(expect.arrayContaining(await driverNamesOf(labId)));
      for (const name of await driverNamesOf(labId)) expect(other.driver.vms.has(name)).toBe(false);
    }
    // The API process drove no hypervisor at all.
    expect(vmNames(api.driver)).toEqual([]);

    // Deleting a lab on host B: B's agent destroys its VMs; the queued lab takes the freed place there.
    const onB = [first, second].find((id, i) => [a, b][i]!.host!.id === agents[1]!.hostId)!;
    const bNames = await driverNamesOf(onB);
    expect((await api.app.inject({ method: 'DELETE', url: `/api/v1/labs/${onB}`, headers: admin.headers })).statusCode).toBe(202);
    await waitForLab(api, admin.headers, onB, (l) => l.status === 'deleted');
    for (const name of bNames) expect(agents[1]!.driver.vms.has(name)).toBe(false);
    const moved = await waitForLab(api, admin.headers, third, (l) => l.status === 'running');
    expect(moved.host?.id).toBe(agents[1]!.hostId);
    for (const name of await driverNamesOf(third)) expect(agents[1]!.driver.vms.has(name)).toBe(true);
  });

  it("reconciles only its own host: agent A neither marks B's VMs missing nor destroys a VM any lab owns", async () => {
    const [a, b] = agents as [Agent, Agent];
    const bVms = [...b.driver.vms.keys()];
    expect(bVms.length).toBeGreaterThan(0);
    // A VM of B's lab also seen by A's hypervisor (two agents sharing one machine): not A's orphan.
    const shared = bVms[0]!;
    const original = b.driver.vms.get(shared)!;
    a.driver.vms.set(shared, original);
    // And a real orphan on A: nobody's lab owns it.
    a.driver.vms.set('lorphan0000-box', { ...original, info: { ...original.info, name: 'lorphan0000-box' } });
    const report = await a.services.maintenance.reconcile();
    expect(report.vmsMissing).toEqual([]);
    expect(report.orphansDestroyed).toEqual(['lorphan0000-box']);
    expect(a.driver.vms.has(shared)).toBe(true);
    const statuses = (await api.services.repositories.labs.liveDriverNames()).vms.filter((vm) => bVms.includes(vm.driverName));
    expect(statuses.map((vm) => vm.status)).toEqual(bVms.map(() => 'running'));

    // B's own reconciliation still sees its VMs vanish: they are marked missing, honestly.
    b.driver.vms.delete(shared);
    expect((await b.services.maintenance.reconcile()).vmsMissing).toHaveLength(1);
    a.driver.vms.delete(shared);
  });

  it('deletes a lab that never reached a host without any hypervisor work (the API runs no agent)', async () => {
    const id = await startLab();
    expect(await detail(id)).toMatchObject({ status: 'queued' });
    // A lab that failed before placement: in error, with no host.
    await api.services.repositories.labs.transition(id, ['queued'], 'error');
    const deleted = await api.app.inject({ method: 'DELETE', url: `/api/v1/labs/${id}`, headers: admin.headers });
    expect(deleted.statusCode, deleted.body).toBe(202);
    await waitForLab(api, admin.headers, id, (l) => l.status === 'deleted');
  });
});
