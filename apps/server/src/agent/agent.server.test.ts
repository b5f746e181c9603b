import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeDriver, HypervisorError, type VmSpec } from '@ctp/hypervisor';
import { buildAgentServer } from './agent.server.js';
import { DRIVER_AUDIENCE, consoleAudience, issueClusterToken } from './cluster-token.js';
import { REMOTE_METHODS } from './agent-protocol.js';
import { RemoteDriver } from './remote.driver.js';

const SECRET = 'agent-server-test-secret-0123456789abcdef';
const HOST = 'hv-remote';
const spec = (name: string): VmSpec => ({
  name,
  image: { kind: 'kernel', kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' },
  cpus: 1,
  memoryMiB: 128,
  nics: [],
});

let driver: FakeDriver;
let agent: FastifyInstance;
let base: string;
let remote: RemoteDriver;
const logLines: string[] = [];

beforeAll(async () => {
  driver = new FakeDriver();
  // Every line the agent server logs, to prove that bodies never reach it.
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  agent = await buildAgentServer({ hostName: HOST, clusterSecret: SECRET, driver, logger });
  await agent.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}`;
  remote = new RemoteDriver({ name: HOST, address: base, clusterSecret: SECRET });
});

afterAll(async () => {
  await agent.close();
});

async function caught(promise: Promise<unknown>): Promise<HypervisorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HypervisorError);
  return error as HypervisorError;
}

function read(stream: Duplex, until: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`console never showed ${until}: ${text}`)), 5000);
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes(until)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

describe('agent server and RemoteDriver (fake driver behind the agent)', () => {
  it('round-trips every allowed method, keeping Dates, Buffers and results', async () => {
    await driver.createVm(spec('l1-vm'));
    expect(await remote.getVm('l1-vm')).toEqual(await driver.getVm('l1-vm'));
    expect(await remote.getVm('l1-absent')).toBeNull();
    expect((await remote.probe()).driver).toBe('fake');
    await remote.startVm('l1-vm');
    expect((await driver.getVm('l1-vm'))?.state).toBe('running');
    await remote.pauseVm('l1-vm');
    expect((await driver.getVm('l1-vm'))?.state).toBe('paused');
    await remote.resumeVm('l1-vm');
    await remote.rebootVm('l1-vm');
    await remote.waitForGuestAgent('l1-vm', 5000);
    const binary = Buffer.from([0, 1, 2, 250, 255, 10]);
    await remote.guestWriteFile('l1-vm', { path: '/root/flag.bin', content: binary, mode: 0o600, owner: 'root' });
    await remote.guestWriteFile('l1-vm', { path: '/root/note', content: 'text file\n' });
    const written = driver.guestFiles('l1-vm').get('/root/flag.bin')!;
    expect(Buffer.isBuffer(written.content) && written.content.equals(binary)).toBe(true);
    expect(written).toMatchObject({ mode: 0o600, owner: 'root' });
    expect(await remote.guestExec('l1-vm', { argv: ['cat', '/root/note'] })).toEqual({ exitCode: 0, stdout: 'text file\n', stderr: '' });
    const taken = await remote.takeSnapshot('l1-vm', 'base');
    expect(taken.createdAt).toBeInstanceOf(Date);
    const listed = await remote.listSnapshots('l1-vm');
    expect(listed).toEqual(await driver.listSnapshots('l1-vm'));
    expect(listed[0]!.createdAt).toBeInstanceOf(Date);
    expect(listed[0]!.createdAt.getTime()).toBe(taken.createdAt.getTime());
    await remote.revertSnapshot('l1-vm', 'base');
    await remote.deleteSnapshot('l1-vm', 'base');
    expect(await driver.listSnapshots('l1-vm')).toEqual([]);
    await remote.stopVm('l1-vm', { timeoutMs: 1000 });
    expect((await driver.getVm('l1-vm'))?.state).toBe('stopped');
    // Guest commands and file contents never reach the agent's log; VM names and methods do.
    const log = logLines.join('');
    expect(log).toContain('guestExec');
    expect(log).not.toContain('/root/note');
    expect(log).not.toContain('text file');
    expect(log).not.toContain(binary.toString('base64'));
    // The list this test walks through is the whole allowlist.
    expect([...REMOTE_METHODS].sort()).toEqual(
      [
        'probe',
        'getVm',
        'startVm',
        'stopVm',
        'rebootVm',
        'pauseVm',
        'resumeVm',
        'takeSnapshot',
        'listSnapshots',
        'revertSnapshot',
        'deleteSnapshot',
        'waitForGuestAgent',
        'guestExec',
        'guestWriteFile',
      ].sort(),
    );
  });

  it('keeps HypervisorError codes, messages and stderr across the wire', async () => {
    const missing = await caught(remote.startVm('l1-absent'));
    expect(missing.code).toBe('not_found');
    expect(missing.message).toBe('VM l1-absent does not exist');
    await driver.createVm(spec('l2-vm'));
    const stopped = await caught(remote.guestExec('l2-vm', { argv: ['true'] }));
    expect(stopped.code).toBe((await caught(driver.guestExec('l2-vm', { argv: ['true'] }))).code);
    driver.failOn = { operation: 'startVm', message: 'qemu exploded' };
    const failed = await caught(remote.startVm('l2-vm'));
    driver.failOn = undefined;
    expect(failed).toMatchObject({ code: 'command_failed', message: 'qemu exploded', stderr: 'qemu exploded' });
    expect((await caught(remote.openConsole('l2-vm', 'serial'))).code).toBe('invalid_state');
  });

  it('refuses what is not forwarded, with a clear error', async () => {
    const refused = await caught(remote.createVm());
    expect(refused.code).toBe('unsupported');
    expect(refused.message).toMatch(/createVm runs on host hv-remote's own agent/);
    expect((await caught(remote.destroyVm())).code).toBe('unsupported');
    // And the agent itself refuses a method outside its allowlist, whatever the token.
    const token = issueClusterToken(SECRET, { host: HOST, audience: DRIVER_AUDIENCE });
    const response = await fetch(`${base}/agent/v1/driver`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'destroyVm', args: ['l1-vm'] }),
    });
    expect(response.status).toBe(400);
    expect(await driver.getVm('l1-vm')).not.toBeNull();
  });

  it('answers 401, saying nothing more, without a token or with a bad one', async () => {
    const call = (authorization?: string, path = '/agent/v1/driver') =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ method: 'getVm', args: ['l1-vm'] }),
      });
    const forOtherHost = issueClusterToken(SECRET, { host: 'hv-other', audience: DRIVER_AUDIENCE });
    const otherSecret = issueClusterToken(`${SECRET}-not-this-one`, { host: HOST, audience: DRIVER_AUDIENCE });
    const consoleToken = issueClusterToken(SECRET, { host: HOST, audience: consoleAudience('l1-vm', 'serial') });
    const expired = issueClusterToken(SECRET, { host: HOST, audience: DRIVER_AUDIENCE }, 30, Date.now() - 31_000);
    for (const authorization of [
      undefined,
      'Bearer nonsense',
      `Bearer ${forOtherHost}`,
      `Bearer ${otherSecret}`,
      `Bearer ${consoleToken}`,
      `Bearer ${expired}`,
    ]) {
      const response = await call(authorization);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { code: 'unauthorized', message: 'Unauthorized' } });
    }
    // Unknown paths too: without a token nothing tells which routes or VMs exist.
    expect((await call(undefined, '/agent/v1/other')).status).toBe(401);
    // The RemoteDriver of an API with another secret gets a clear error, not a crash.
    const wrong = new RemoteDriver({ name: HOST, address: base, clusterSecret: `${SECRET}-not-this-one` });
    expect((await caught(wrong.getVm('l1-vm'))).message).toMatch(/refused this API's cluster token/);
    expect((await caught(wrong.openConsole('l1-vm', 'serial'))).message).toMatch(/refused this API's cluster token/);
  });

  it('refuses a console WebSocket without a token for that VM and kind', async () => {
    await driver.startVm('l1-vm');
    const status = (headers: Record<string, string>, path = '/agent/v1/vms/l1-vm/console/serial') =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(`${base.replace('http', 'ws')}${path}`, { headers });
        socket.on('open', () => {
          socket.close();
          resolve(101);
        });
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('error', () => resolve(-1));
      });
    expect(await status({})).toBe(401);
    const vnc = issueClusterToken(SECRET, { host: HOST, audience: consoleAudience('l1-vm', 'vnc') });
    expect(await status({ authorization: `Bearer ${vnc}` })).toBe(401);
    const serial = issueClusterToken(SECRET, { host: HOST, audience: consoleAudience('l1-vm', 'serial') });
    expect(await status({ authorization: `Bearer ${serial}` })).toBe(101);
  });

  it('pipes a console both ways through a WebSocket', async () => {
    const console = driver.console('l1-vm', 'serial');
    console.print('login: ');
    const stream = await remote.openConsole('l1-vm', 'serial');
    // The scrollback arrives first, then what the guest prints later.
    const seen = read(stream, 'welcome');
    console.print('welcome\n');
    expect(await seen).toContain('login: ');
    stream.write('root\n');
    await expect.poll(() => console.typed, { timeout: 5000 }).toBe('root\n');
    // Closing the remote stream closes the agent's stream, not the VM.
    stream.destroy();
    await expect.poll(async () => (await driver.getVm('l1-vm'))?.state).toBe('running');
    // The VM going away ends the remote stream.
    const second = await remote.openConsole('l1-vm', 'serial');
    const ended = new Promise<void>((resolve) => second.on('close', () => resolve()));
    // Flowing, as every real reader is: a stream ends only once its data is read.
    second.resume();
    await driver.stopVm('l1-vm');
    await ended;
  });

  it('reports an agent that does not answer as host_unavailable', async () => {
    const gone = new RemoteDriver({ name: 'hv-gone', address: 'http://127.0.0.1:1', clusterSecret: SECRET });
    expect((await caught(gone.getVm('l1-vm'))).code).toBe('host_unavailable');
    expect((await caught(gone.openConsole('l1-vm', 'serial'))).code).toBe('host_unavailable');
  });
});
