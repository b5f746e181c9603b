import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuDriver, SocketNetworkBackend } from '@ctp/hypervisor';
import { demoImages, SerialReader, testAcceleratorCache } from '@ctp/hypervisor/test-support';
import { labPrefix } from '../labs/lab-operation.js';
import { openWebSocketStream, rfbFirstUpdate } from '../test-support/console-client.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { buildAgentServer } from './agent.server.js';

const SECRET = 'agent-qemu-test-secret-0123456789abcdefgh';

/**
 * A second host on this machine: an agent server over a real QEMU driver with its own data
 * directory, serving a demo guest. The API (host `api-host`, whose own driver is the fake and
 * has never heard of that VM) reaches it only through the agent, by the VM's host in the database:
 * the browser's serial console through the API's console route, and the private guest channel.
 */
describe('a VM of another host, on real QEMU, through its agent', { timeout: 240_000 }, () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-agent-qemu-'));
  const images = demoImages();
  const qemu = new QemuDriver({
    stateDir,
    network: new SocketNetworkBackend(path.join(stateDir, '.net')),
    probeKernel: images.target.kernel,
    acceleratorCacheFile: testAcceleratorCache(),
  });
  let ctx: TestContext;
  let agent: FastifyInstance;
  let apiBase: string;
  let vmId: string;
  let driverName: string;
  let owner: Awaited<ReturnType<typeof signedIn>>;
  const readers: SerialReader[] = [];

  beforeAll(async () => {
    agent = await buildAgentServer({ hostName: 'hv-qemu', clusterSecret: SECRET, driver: qemu });
    await agent.listen({ port: 0, host: '127.0.0.1' });
    const agentUrl = `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}`;
    ctx = await createTestApp({ hostName: 'api-host', clusterSecret: SECRET });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    apiBase = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    owner = await signedIn(ctx, 'student');
    const { row: host } = await ctx.services.repositories.hosts.register(
      { name: 'hv-qemu', address: agentUrl, cpus: 2, memoryMiB: 2048, diskBytes: 0, accelerator: 'tcg', driver: 'qemu' },
      new Date(),
    );
    // The lab as placement and the host's agent would leave it: rows on host hv-qemu, the guest booted there.
    const template = await ctx.services.templates.ensureDemoTemplate();
    const id = crypto.randomUUID();
    driverName = `${labPrefix(id)}-target`;
    const lab = await ctx.services.repositories.labs.create(
      {
        id,
        name: 'Remote lab',
        userId: owner.user.id,
        templateId: template.id,
        config: template.config,
        status: 'running',
        hostId: host.id,
      },
      [],
      [{ name: 'target', driverName, image: 'demo-target', nics: [], status: 'running', hostId: host.id }],
    );
    const [vm] = await ctx.services.repositories.labs.vmsOf(lab.id);
    vmId = vm!.id;
    await qemu.createVm({ name: driverName, image: images.target, cpus: 1, memoryMiB: 128, nics: [], kernelArgs: 'ctp.hostname=remote' });
    await qemu.startVm(driverName);
  }, 120_000);

  afterAll(async () => {
    for (const reader of readers) reader.close();
    await qemu.destroyVm(driverName).catch(() => {});
    qemu.close();
    await agent?.close();
    await ctx?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("shows the guest's serial console through the API's console route and takes input", async () => {
    const ticket = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers: owner.headers,
      payload: { kind: 'serial' },
    });
    expect(ticket.statusCode, ticket.body).toBe(201);
    const reader = new SerialReader(await openWebSocketStream(`${apiBase}${ticket.json().url}`));
    readers.push(reader);
    await reader.waitFor('CTP-READY target remote', 180_000);
    const word = `w${Math.random().toString(36).slice(2, 10)}`;
    expect(await reader.run(`echo ${word} | rev`)).toContain([...word].reverse().join(''));
    // The API's own driver never had this VM: every byte went through the agent.
    expect(await ctx.driver.getVm(driverName)).toBeNull();
  });

  it("carries the guest's VNC screen (binary RFB) through the agent", async () => {
    const ticket = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers: owner.headers,
      payload: { kind: 'vnc' },
    });
    expect(ticket.statusCode, ticket.body).toBe(201);
    const vnc = await openWebSocketStream(`${apiBase}${ticket.json().url}`);
    const update = await rfbFirstUpdate(vnc);
    expect(update.width).toBeGreaterThan(0);
    expect(update.rectangles).toBeGreaterThan(0);
    vnc.destroy();
  });

  it('runs guest commands and writes files over the private channel through the agent', async () => {
    const driver = ctx.services.clusterDriver;
    await driver.waitForGuestAgent(driverName, 120_000);
    const flag = `CTP{${Math.random().toString(36).slice(2, 12)}}`;
    await driver.guestWriteFile(driverName, { path: '/root/flag.txt', content: Buffer.from(`${flag}\n`), mode: 0o600 });
    expect(await driver.guestExec(driverName, { argv: ['cat', '/root/flag.txt'] })).toEqual({
      exitCode: 0,
      stdout: `${flag}\n`,
      stderr: '',
    });
    expect((await driver.guestExec(driverName, { argv: ['stat', '-c', '%a', '/root/flag.txt'] })).stdout).toBe('600\n');
    expect((await driver.getVm(driverName))?.state).toBe('running');
    // A snapshot list comes back with real Dates.
    const snapshot = await driver.takeSnapshot(driverName, 'remote-snap');
    expect(snapshot.createdAt).toBeInstanceOf(Date);
    expect((await driver.listSnapshots(driverName)).map((s) => s.name)).toContain('remote-snap');
  });
});
