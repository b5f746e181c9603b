import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventTicket, Host, LabDetail, TemplateList, TokenResponse } from '@ctp/contracts';
import { SerialReader } from '@ctp/hypervisor/test-support';
import { openWebSocketStream } from '../test-support/console-client.js';
import { HaproxyProcess } from '../test-support/haproxy.js';
import { NetworkNamespace } from '../test-support/netns.js';
import { PrivatePostgres } from '../test-support/private-postgres.js';
import { freePort, ServerProcess } from '../test-support/server-process.js';
import { openSocket, type WatchedClient } from '../test-support/ws-client.js';

const SECRET = 'cluster-test-secret-0123456789abcdef0123456789';
const AGENT_PORT = 7411;

/** Polls `check` until it is true, or fails after `timeoutMs` saying `what`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// The platform as a university would deploy it on several machines: one PostgreSQL server, two API
// instances (CTP_ROLE=api) behind the shipped HAProxy configuration, and two hypervisor agents
// (CTP_ROLE=agent), each in its own network namespace, as on two hosts: an agent's bridges, taps
// and nftables rules are its own, and the API reaches it only over its link, with a cluster token.
describe('two API instances behind HAProxy and two agents on two hosts', () => {
  const dirs: string[] = [];
  const namespaces: NetworkNamespace[] = [];
  const processes: ServerProcess[] = [];
  const sockets: WatchedClient[] = [];
  const consoles: SerialReader[] = [];
  let postgres: PrivatePostgres | undefined;
  let haproxy: HaproxyProcess | undefined;

  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const s of sockets) s.ws.terminate();
    await haproxy?.stop();
    // Agents first, with SIGTERM: each stops its own guests' jobs; then the namespaces go, with every
    // device made in them, and the guests' QEMU processes are ended by their state directories.
    for (const p of processes.reverse()) await p.kill('SIGKILL');
    for (const dir of dirs) await killGuests(dir);
    for (const ns of namespaces) await ns.destroy();
    await postgres?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('places labs on both hosts; a console through instance 1 reaches a VM on host 2; an event caused through instance 2 reaches instance 1', async () => {
    namespaces.push(await NetworkNamespace.create(0), await NetworkNamespace.create(1));
    postgres = await PrivatePostgres.start({
      listen: namespaces.map((ns) => ns.hostAddress),
      networks: namespaces.map((ns) => ns.network),
    });
    const common = {
      CTP_CLUSTER_SECRET: SECRET,
      // One key on every process: agents put each lab's secrets into its guests, the API checks answers with them.
      CTP_SECRETS_KEY: 'cluster-test-secrets-key-0123456789abcdef',
      CTP_JWT_SECRET: 'cluster-test-jwt-secret-0123456789abcdef',
      CTP_SAVED_STATES: 'false',
      CTP_HOST_HEARTBEAT_SECONDS: '1',
      LOG_LEVEL: 'info',
    };
    const agents = namespaces.map((ns, i) => {
      const dataDir = mkdtempSync(path.join(tmpdir(), `ctp-agent${i}-`));
      dirs.push(dataDir);
      return new ServerProcess(
        AGENT_PORT,
        {
          ...common,
          CTP_ROLE: 'agent',
          DATABASE_URL: postgres!.urlVia(ns.hostAddress),
          CTP_DATA_DIR: dataDir,
          CTP_HOST_NAME: `host-${i + 1}`,
          CTP_AGENT_PORT: String(AGENT_PORT),
          CTP_AGENT_HOST: ns.address,
          CTP_AGENT_URL: `http://${ns.address}:${AGENT_PORT}`,
        },
        { prefix: ns.exec([]), shareDatabase: true },
      );
    });
    const apis = await Promise.all(
      [0, 1].map(async (i) => {
        const dataDir = mkdtempSync(path.join(tmpdir(), `ctp-api${i}-`));
        dirs.push(dataDir);
        return new ServerProcess(
          await freePort(),
          {
            ...common,
            CTP_ROLE: 'api',
            DATABASE_URL: postgres!.url,
            CTP_DATA_DIR: dataDir,
            CTP_ADMIN_PASSWORD: 'admin-password-1',
            CTP_TRUST_PROXY: 'true',
            CTP_MAX_LABS_PER_USER: '4',
          },
          { shareDatabase: i > 0 },
        );
      }),
    );
    // The first API instance migrates the (empty) database; the others join it.
    processes.push(apis[0]!);
    await apis[0]!.start();
    processes.push(apis[1]!, ...agents);
    await Promise.all([apis[1]!.start(), ...agents.map((a) => a.start())]);
    const [api1, api2] = apis as [ServerProcess, ServerProcess];
    haproxy = new HaproxyProcess(await freePort(), await freePort(), [`127.0.0.1:${api1.port}`, `127.0.0.1:${api2.port}`]);
    await haproxy.start();

    const lb = async <T>(method: string, url: string, token?: string, body?: unknown) => {
      const response = await fetch(`${haproxy!.url}${url}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, json: () => JSON.parse(text) as T };
    };
    const token = (await lb<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username: 'admin', password: 'admin-password-1' })).json()
      .accessToken;

    // Both hosts registered and up, each with its agent's address.
    await until('both hosts up', async () => {
      const hosts = (await lb<{ items: Host[] }>('GET', '/api/v1/hosts', token)).json().items;
      return hosts.filter((h) => h.state === 'up').length === 2;
    });

    // Two labs: the scheduler spreads them, one on each host.
    const templates = (await lb<TemplateList>('GET', '/api/v1/templates', token)).json().items;
    const templateId = templates.find((t) => t.title === 'Network basics')!.id;
    const labIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const created = await lb<LabDetail>('POST', '/api/v1/labs', token, { templateId });
      expect(created.status).toBe(202);
      labIds.push(created.json().id);
    }
    const labs: LabDetail[] = [];
    for (const id of labIds) {
      await until(`lab ${id} running`, async () => (await lb<LabDetail>('GET', `/api/v1/labs/${id}`, token)).json().status === 'running', 180_000);
      labs.push((await lb<LabDetail>('GET', `/api/v1/labs/${id}`, token)).json());
    }
    const hostOf = (lab: LabDetail) => lab.host?.name;
    expect(labs.map(hostOf).sort()).toEqual(['host-1', 'host-2']);

    // Each host's guests run in its own namespace: its QEMU processes are there, not in the other.
    const onHost2 = labs.find((lab) => hostOf(lab) === 'host-2')!;
    const vm = onHost2.vms.find((v) => v.name === 'target')!;

    // A console through instance 1 (not through HAProxy) to a VM on host 2: proxied to host 2's agent.
    const ticket = await api1.request<{ url: string }>('POST', `/api/v1/vms/${vm.id}/console-tickets`, token, { kind: 'serial' });
    expect(ticket.status).toBe(201);
    const serial = new SerialReader(await openWebSocketStream(`ws://127.0.0.1:${api1.port}${ticket.json().url}`));
    consoles.push(serial);
    await serial.waitFor('CTP-READY target target', 90_000);
    const word = `w${Math.random().toString(36).slice(2, 10)}`;
    expect(await serial.run(`echo ${word} | rev`)).toContain([...word].reverse().join(''));

    // An event caused through instance 2 reaches a socket on instance 1.
    const eventTicket = (await api1.request<EventTicket>('POST', '/api/v1/events/tickets', token)).json();
    const socket = await openSocket(`ws://127.0.0.1:${api1.port}${eventTicket.url}`);
    sockets.push(socket);
    const messages: { type: string; labId?: string; data?: Record<string, unknown> }[] = [];
    socket.ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as (typeof messages)[number]));
    await until('the stream to be ready', () => messages.some((m) => m.type === 'ready'));
    const stopped = await api2.request('POST', `/api/v1/vms/${vm.id}/stop`, token);
    expect(stopped.status).toBeLessThan(300);
    await until('the VM stopped on the socket of instance 1', () =>
      messages.some((m) => m.labId === onHost2.id && m.type === 'vm.status' && m.data?.status === 'stopped'),
    );
  });
});

/** Ends the QEMU processes a data directory's VM state records (their namespace is about to go). */
async function killGuests(dataDir: string): Promise<void> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const vms = path.join(dataDir, 'vms');
  let names: string[] = [];
  try {
    names = readdirSync(vms);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const pid = Number(readFileSync(path.join(vms, name, 'qemu.pid'), 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // No pid file, or the process is gone.
    }
  }
}
