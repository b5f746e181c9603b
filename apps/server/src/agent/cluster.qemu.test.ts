import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import type { EventTicket, Host, LabDetail, TemplateList, TokenResponse } from '@ctp/contracts';
import { runCommand } from '@ctp/hypervisor';
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

  it('places labs on both hosts, proxies consoles and events across instances, and survives the SIGKILL of an agent', async () => {
    // What each process said, if the test fails (the logs are the only trace of an agent's work).
    onTestFailed(() => {
      for (const p of processes) console.log(`--- process on port ${p.port}:\n${p.output.slice(-4000)}`);
    });
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
      CTP_HOST_DOWN_AFTER_SECONDS: '4',
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
    const token = (
      await lb<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username: 'admin', password: 'admin-password-1' })
    ).json().accessToken;

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
      await until(
        `lab ${id} running`,
        async () => (await lb<LabDetail>('GET', `/api/v1/labs/${id}`, token)).json().status === 'running',
        180_000,
      );
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
    // (`ready` may come in the same packet as the upgrade, before the handler above: read all received.)
    await until('the stream to be ready', () => socket.received().includes('"type":"ready"'));
    const stopped = await api2.request('POST', `/api/v1/vms/${vm.id}/stop`, token);
    expect(stopped.status).toBeLessThan(300);
    await until('the VM stopped on the socket of instance 1', () =>
      messages.some((m) => m.labId === onHost2.id && m.type === 'vm.status' && m.data?.status === 'stopped'),
    );

    // Host 2's guests run in host 2's namespace, as they would on another machine.
    const host2Guests = guestPids(dirs[1]!);
    expect(host2Guests.length).toBeGreaterThan(0);
    for (const pid of host2Guests) expect(await namespaceOf(pid)).toBe(namespaces[1]!.name);
    for (const pid of guestPids(dirs[0]!)) expect(await namespaceOf(pid)).toBe(namespaces[0]!.name);

    // Host 2's agent dies: its host goes down, its lab is flagged, a new lab goes to host 1.
    await agents[1]!.kill('SIGKILL');
    await until('host 2 down', async () => {
      const hosts = (await lb<{ items: Host[] }>('GET', '/api/v1/hosts', token)).json().items;
      return hosts.find((h) => h.name === 'host-2')?.state === 'down';
    });
    expect((await lb<LabDetail>('GET', `/api/v1/labs/${onHost2.id}`, token)).json().hostUnreachable).toBe(true);
    await until('the lab flagged on the socket', () => messages.some((m) => m.labId === onHost2.id && m.type === 'lab.host'));
    const third = await lb<LabDetail>('POST', '/api/v1/labs', token, { templateId });
    expect(third.status).toBe(202);
    await until(
      'the new lab running',
      async () => (await lb<LabDetail>('GET', `/api/v1/labs/${third.json().id}`, token)).json().status === 'running',
      180_000,
    );
    expect((await lb<LabDetail>('GET', `/api/v1/labs/${third.json().id}`, token)).json().host?.name).toBe('host-1');

    // Back: it reconciles with the guests that outlived it, and its lab returns, nothing lost.
    await agents[1]!.start();
    await until('host 2 up and its lab reachable', async () => {
      const lab = (await lb<LabDetail>('GET', `/api/v1/labs/${onHost2.id}`, token)).json();
      return !lab.hostUnreachable && lab.status === 'running';
    });
    expect(guestPids(dirs[1]!)).toEqual(host2Guests);
    const back = (await lb<LabDetail>('GET', `/api/v1/labs/${onHost2.id}`, token)).json();
    expect(back.vms.find((v) => v.name === 'attacker')?.status).toBe('running');
    // And it serves consoles again, through instance 2 this time.
    const again = await api2.request<{ url: string }>(
      'POST',
      `/api/v1/vms/${back.vms.find((v) => v.name === 'attacker')!.id}/console-tickets`,
      token,
      {
        kind: 'serial',
      },
    );
    expect(again.status).toBe(201);
    const attacker = new SerialReader(await openWebSocketStream(`ws://127.0.0.1:${api2.port}${again.json().url}`));
    consoles.push(attacker);
    expect(await attacker.run(`echo ${word} | rev`)).toContain([...word].reverse().join(''));
  }, 600_000);
});

/** The live QEMU processes of an agent's data directory, by their pid files, sorted. */
function guestPids(dataDir: string): number[] {
  const vms = path.join(dataDir, 'vms');
  if (!existsSync(vms)) return [];
  return readdirSync(vms)
    .map((name) => {
      try {
        return Number(readFileSync(path.join(vms, name, 'qemu.pid'), 'utf8').trim());
      } catch {
        return 0;
      }
    })
    .filter((pid) => pid > 0 && existsSync(`/proc/${pid}`))
    .sort((a, b) => a - b);
}

/** The named network namespace a process is in (`ip netns identify`). */
async function namespaceOf(pid: number): Promise<string> {
  return (await runCommand(['ip', 'netns', 'identify', String(pid)])).stdout.trim();
}

/** Ends the QEMU processes a data directory's VM state records (their namespace is about to go). */
async function killGuests(dataDir: string): Promise<void> {
  for (const pid of guestPids(dataDir)) process.kill(pid, 'SIGKILL');
}
