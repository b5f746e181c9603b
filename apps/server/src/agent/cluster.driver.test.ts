import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeDriver, HypervisorError } from '@ctp/hypervisor';
import { hosts, labs, vms } from '../db/schema.js';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';
import { buildAgentServer } from './agent.server.js';
import { createClusterDriver } from './cluster.driver.js';

const SECRET = 'cluster-driver-test-secret-0123456789abcd';

// The API process is host `api-host` with a fake driver (ctx.driver); host `hv-2` is another
// machine: an agent server over its own fake driver. Both share the real test database.
describe('cluster driver: each VM call goes to the VM host', () => {
  let ctx: TestContext;
  let remoteDriver: FakeDriver;
  let agent: FastifyInstance;
  let agentUrl: string;
  let apiBase: string;

  beforeAll(async () => {
    ctx = await createTestApp({ hostName: 'api-host', clusterSecret: SECRET });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    apiBase = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    remoteDriver = new FakeDriver();
    agent = await buildAgentServer({ hostName: 'hv-2', clusterSecret: SECRET, driver: remoteDriver });
    await agent.listen({ port: 0, host: '127.0.0.1' });
    agentUrl = `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await agent.close();
    await ctx.close();
  });
  beforeEach(() => resetDatabase());

  const register = (name: string, address: string | null) =>
    ctx.services.repositories.hosts.register(
      { name, address, cpus: 4, memoryMiB: 4096, diskBytes: 0, accelerator: 'none', driver: 'fake' },
      new Date(),
    );

  /** A lab of `ownerId` whose VM lives on host `hostName`'s driver (moved there from the local fake). */
  async function labOn(ownerId: string, hostName: string, driver: FakeDriver) {
    const { lab, vm } = await makeLab(ctx, ownerId);
    if (driver !== ctx.driver) {
      await ctx.driver.destroyVm(vm.driverName);
      await driver.createVm({
        name: vm.driverName,
        image: { kind: 'disk', path: '/dev/null', format: 'raw' },
        cpus: 1,
        memoryMiB: 64,
        nics: [],
      });
      await driver.startVm(vm.driverName);
    }
    const host = await ctx.services.repositories.hosts.findByName(hostName);
    const db = ctx.services.database.db;
    await db.update(labs).set({ hostId: host!.id }).where(eq(labs.id, lab.id));
    await db.update(vms).set({ hostId: host!.id }).where(eq(vms.id, vm.id));
    return { lab, vm };
  }

  it('routes to the local driver, the remote agent, or refuses a down host', async () => {
    const owner = await signedIn(ctx, 'student');
    await register('api-host', null);
    await register('hv-2', agentUrl);
    await register('hv-3', 'http://127.0.0.1:1');
    const local = await labOn(owner.user.id, 'api-host', ctx.driver);
    const remote = await labOn(owner.user.id, 'hv-2', remoteDriver);
    const driver = ctx.services.clusterDriver;
    await expect(ctx.services.repositories.hosts.hostOfVm(remote.vm.driverName)).resolves.toMatchObject({
      name: 'hv-2',
      address: agentUrl,
    });

    // Each VM is found on its own host only.
    expect((await driver.getVm(local.vm.driverName))?.state).toBe('running');
    expect((await driver.getVm(remote.vm.driverName))?.state).toBe('running');
    expect(await ctx.driver.getVm(remote.vm.driverName)).toBeNull();
    await driver.stopVm(remote.vm.driverName);
    expect((await remoteDriver.getVm(remote.vm.driverName))?.state).toBe('stopped');
    expect((await ctx.driver.getVm(local.vm.driverName))?.state).toBe('running');
    await driver.startVm(remote.vm.driverName);
    await driver.guestWriteFile(remote.vm.driverName, { path: '/flag', content: Buffer.from('FLAG{remote}') });
    expect((await driver.guestExec(remote.vm.driverName, { argv: ['cat', '/flag'] })).stdout).toBe('FLAG{remote}');
    expect(remoteDriver.guestFiles(remote.vm.driverName).has('/flag')).toBe(true);

    // A VM the database does not know (a template's reference VM) is this host's.
    await ctx.driver.createVm({
      name: 'reference-vm',
      image: { kind: 'disk', path: '/dev/null', format: 'raw' },
      cpus: 1,
      memoryMiB: 64,
      nics: [],
    });
    expect(await driver.getVm('reference-vm')).not.toBeNull();

    // A down host is not called: a clear error, at once.
    await ctx.services.database.db.update(hosts).set({ state: 'down' }).where(eq(hosts.name, 'hv-2'));
    const refused = await driver.startVm(remote.vm.driverName).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(HypervisorError);
    expect(refused).toMatchObject({ code: 'host_unavailable', message: expect.stringMatching(/host hv-2 is down/) });
  });

  it('answers 409 with a reason, not 500, for a VM on a down or unreachable host', async () => {
    const owner = await signedIn(ctx, 'student');
    await register('hv-3', 'http://127.0.0.1:1');
    const { vm } = await labOn(owner.user.id, 'hv-3', remoteDriver);
    const calls = () =>
      Promise.all([
        ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${vm.id}/stop`, headers: owner.headers }),
        ctx.app.inject({ url: `/api/v1/vms/${vm.id}/snapshots`, headers: owner.headers }),
        ctx.app.inject({
          method: 'POST',
          url: `/api/v1/vms/${vm.id}/console-tickets`,
          headers: owner.headers,
          payload: { kind: 'serial' },
        }),
      ]);
    // Up but not answering, then marked down: the same clear refusal for synchronous VM calls.
    const unreachable = await calls();
    await ctx.services.database.db.update(hosts).set({ state: 'down' }).where(eq(hosts.name, 'hv-3'));
    const down = await calls();
    for (const response of [...unreachable.slice(0, 2), ...down.slice(0, 2)]) {
      expect(response.statusCode, response.body).toBe(409);
      expect(response.json().error).toMatchObject({ code: 'hypervisor_host_unavailable', message: expect.stringMatching(/unreachable/) });
    }
    // A ticket is only a promise: the console itself is refused when opened.
    expect(down[2].statusCode).toBeLessThan(500);
  });

  it('needs the cluster secret to reach another host', async () => {
    const owner = await signedIn(ctx, 'student');
    await register('hv-2', agentUrl);
    const { vm } = await labOn(owner.user.id, 'hv-2', remoteDriver);
    const noSecret = createClusterDriver({
      local: ctx.driver,
      hosts: ctx.services.repositories.hosts,
      config: { hostName: 'api-host', clusterSecret: undefined },
    });
    await expect(noSecret.getVm(vm.driverName)).rejects.toMatchObject({
      code: 'host_unavailable',
      message: expect.stringMatching(/CTP_CLUSTER_SECRET/),
    });
  });

  it('works without a driver of its own (an API-only process): VMs through their agents, probe from an agent', async () => {
    const owner = await signedIn(ctx, 'student');
    const apiOnly = createClusterDriver({
      local: undefined,
      hosts: ctx.services.repositories.hosts,
      config: { hostName: 'api-only', clusterSecret: SECRET },
    });
    // No host with an agent yet: a clear refusal, not a crash.
    await expect(apiOnly.probe()).rejects.toMatchObject({ code: 'host_unavailable' });
    await register('hv-2', agentUrl);
    const { vm } = await labOn(owner.user.id, 'hv-2', remoteDriver);
    expect((await apiOnly.getVm(vm.driverName))?.state).toBe('running');
    expect((await apiOnly.probe()).driver).toBe('fake');
    // What only a local driver could do, and VMs on no reachable host, are refused with the reason.
    await expect(apiOnly.listVms()).rejects.toMatchObject({
      code: 'host_unavailable',
      message: expect.stringMatching(/no hypervisor runs in this API process/),
    });
    await expect(apiOnly.getVm('reference-vm')).rejects.toMatchObject({
      code: 'host_unavailable',
      message: expect.stringMatching(/no host this API can reach/),
    });
  });

  it("serves the API's console route unchanged for a VM of another host", async () => {
    const owner = await signedIn(ctx, 'student');
    await register('hv-2', agentUrl);
    const { vm } = await labOn(owner.user.id, 'hv-2', remoteDriver);
    remoteDriver.console(vm.driverName, 'serial').print('remote login: ');
    const issued = (
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/vms/${vm.id}/console-tickets`,
        headers: owner.headers,
        payload: { kind: 'serial' },
      })
    ).json();
    const socket = new WebSocket(`${apiBase}${issued.url}`);
    socket.binaryType = 'arraybuffer';
    let text = '';
    socket.onmessage = (message) => (text += Buffer.from(message.data as ArrayBuffer).toString());
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error('refused'));
    });
    await vi.waitUntil(() => text.includes('remote login: '), { timeout: 5000, interval: 20 });
    socket.send('student\n');
    await vi.waitUntil(() => remoteDriver.console(vm.driverName, 'serial').typed === 'student\n', { timeout: 5000, interval: 20 });
    // The local driver never had this VM: the bytes went through the agent.
    expect(await ctx.driver.getVm(vm.driverName)).toBeNull();
    socket.close();
    await vi.waitUntil(() => ctx.services.consoles.openSessions(vm.id) === 0, { timeout: 5000, interval: 20 });
  });
});
