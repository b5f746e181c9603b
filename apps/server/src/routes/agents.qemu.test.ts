import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostList, LabDetail, LabTemplateConfig, TokenResponse } from '@ctp/contracts';
import { loadConfig } from '../config.js';
import { PrivatePostgres } from '../test-support/private-postgres.js';
import { destroyLeftoverGuests, freePort, ServerProcess } from '../test-support/server-process.js';

/** Polls `check` until it gives a value, or fails after `timeoutMs` saying `what`. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// One tiny guest per lab: the fewest VMs that show where a lab runs.
const ONE_VM: LabTemplateConfig = {
  version: 1,
  title: 'Agent box',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'box', image: 'demo-target', cpus: 1, memoryMiB: 128, nics: [{ network: 'lan' }] }],
};

describe('CTP_ROLE', () => {
  it('refuses split roles on the embedded database, and without the shared secrets key', () => {
    expect(loadConfig({}).role).toBe('all');
    expect(() => loadConfig({ CTP_ROLE: 'agent' })).toThrow(/needs DATABASE_URL/);
    expect(() => loadConfig({ CTP_ROLE: 'api' })).toThrow(/embedded database cannot be shared/);
    expect(() => loadConfig({ CTP_ROLE: 'agent', DATABASE_URL: 'postgres://x/y' })).toThrow(/CTP_SECRETS_KEY/);
    expect(loadConfig({ CTP_ROLE: 'agent', DATABASE_URL: 'postgres://x/y', CTP_SECRETS_KEY: 'k'.repeat(32) }).role).toBe('agent');
    expect(() => loadConfig({ CTP_ROLE: 'worker' })).toThrow(/all, api or agent/);
  });
});

// One API process and one agent process (real QEMU guests) on a PostgreSQL server this test owns.
describe('one API and one hypervisor agent as two processes (real QEMU, PostgreSQL server)', () => {
  const apiDir = mkdtempSync(path.join(tmpdir(), 'ctp-api-'));
  const agentDir = mkdtempSync(path.join(tmpdir(), 'ctp-agent-'));
  let postgres: PrivatePostgres | undefined;
  const processes: ServerProcess[] = [];

  afterAll(async () => {
    for (const process of processes) await process.kill();
    // Whatever happened, no guest outlives the test.
    await destroyLeftoverGuests(agentDir);
    await destroyLeftoverGuests(apiDir);
    await postgres?.destroy();
    for (const dir of [apiDir, agentDir]) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs labs on the agent; a killed agent marks its host down and its labs unreachable; restarted, it re-attaches and the labs return', async () => {
    postgres = await PrivatePostgres.start();
    const shared = {
      DATABASE_URL: postgres.url,
      CTP_SECRETS_KEY: 'agents-test-secrets-key-0123456789abcdef',
      CTP_CLUSTER_SECRET: 'agents-test-cluster-secret-0123456789abcdef',
      CTP_SAVED_STATES: 'false',
      CTP_HOST_HEARTBEAT_SECONDS: '1',
      CTP_HOST_DOWN_AFTER_SECONDS: '4',
      LOG_LEVEL: 'info',
    };
    const api = new ServerProcess(await freePort(), {
      ...shared,
      CTP_ROLE: 'api',
      CTP_DATA_DIR: apiDir,
      CTP_ADMIN_PASSWORD: 'admin-password-1',
      CTP_JWT_SECRET: 'agents-test-jwt-secret-0123456789abcdef',
    });
    const agentPort = await freePort();
    const agentUrl = `http://127.0.0.1:${agentPort}`;
    const agent = new ServerProcess(
      await freePort(),
      {
        ...shared,
        CTP_ROLE: 'agent',
        CTP_DATA_DIR: agentDir,
        CTP_HOST_NAME: 'agent-one',
        CTP_AGENT_PORT: String(agentPort),
        CTP_AGENT_HOST: '127.0.0.1',
        CTP_AGENT_URL: agentUrl,
      },
      { shareDatabase: true },
    );
    processes.push(api, agent);
    await api.start();
    await agent.start();

    const token = (
      await api.request<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username: 'admin', password: 'admin-password-1' })
    ).json().accessToken;
    const hosts = async () => (await api.request<HostList>('GET', '/api/v1/hosts', token)).json().items;
    const lab = async (id: string) => (await api.request<LabDetail>('GET', `/api/v1/labs/${id}`, token)).json();
    const template = await api.request<{ id: string }>('POST', '/api/v1/templates', token, { config: ONE_VM });
    expect(template.status).toBe(201);
    const templateId = template.json().id;
    expect((await api.request('POST', `/api/v1/templates/${templateId}/publish`, token)).status).toBe(200);
    const startLab = async () => {
      const created = await api.request<LabDetail>('POST', '/api/v1/labs', token, { templateId });
      expect(created.status).toBe(202);
      return created.json().id;
    };
    // A VM's QEMU process, from the agent's VM state store.
    const pidOf = (driverName: string) => Number(readFileSync(path.join(agentDir, 'vms', driverName, 'qemu.pid'), 'utf8').trim());
    const alive = (pid: number) => existsSync(`/proc/${pid}`);

    // Only the agent registered a host; the API runs none.
    expect((await hosts()).map((h) => `${h.name} ${h.state} ${h.address}`)).toEqual([`agent-one up ${agentUrl}`]);
    const hostId = (await hosts())[0]!.id;

    const first = await startLab();
    const running = await until('the first lab to run', async () => {
      const detail = await lab(first);
      return detail.status === 'running' && detail;
    });
    expect(running.host?.id).toBe(hostId);
    const vmNames = (await postgres.sql<{ driver_name: string }>('select driver_name from vms where lab_id = $1', [first], 'ctp')).map(
      (r) => r.driver_name,
    );
    expect(vmNames).toHaveLength(1);
    // Really running, on the agent's machine, in its data directory (the API's has none).
    const pids = vmNames.map(pidOf);
    expect(pids.every(alive)).toBe(true);
    expect(existsSync(path.join(apiDir, 'vms', vmNames[0]!))).toBe(false);

    // The agent dies: within the down delay its host is `down`, its lab flagged.
    await agent.kill('SIGKILL');
    await until('the host to go down', async () => (await hosts())[0]!.state === 'down', 20_000);
    expect(await lab(first)).toMatchObject({ status: 'running', hostUnreachable: true });
    const events = await postgres.sql<{ data: { hostUnreachable?: boolean } }>(
      `select data from lab_events where lab_id = $1 and type = 'lab.host'`,
      [first],
      'ctp',
    );
    expect(events.map((e) => e.data.hostUnreachable)).toContain(true);
    const audit = await postgres.sql<{ target_id: string }>(`select target_id from audit_events where action = 'host.down'`, [], 'ctp');
    expect(audit.map((a) => a.target_id)).toEqual([hostId]);
    // Its QEMU processes outlive it.
    expect(pids.every(alive)).toBe(true);

    // Nothing new goes to a host that is down: the next lab waits, with its place in the queue.
    const second = await startLab();
    expect(await lab(second)).toMatchObject({ status: 'queued', queuePosition: 1, host: null });

    // The agent comes back: its host is `up`, it reconciles, and its lab runs on the same QEMU processes.
    await agent.start();
    await until('the host to come back', async () => (await hosts())[0]!.state === 'up', 20_000);
    expect(agent.output).toContain('reconciled with the hypervisor');
    expect(agent.output).toMatch(/"vmsMissing":\[\]/);
    expect(await lab(first)).toMatchObject({ status: 'running', hostUnreachable: false });
    expect(vmNames.map(pidOf)).toEqual(pids);
    expect(pids.every(alive)).toBe(true);
    const vmStatus = await postgres.sql<{ status: string }>('select status from vms where lab_id = $1', [first], 'ctp');
    expect(vmStatus.map((v) => v.status)).toEqual(['running']);
    const back = await postgres.sql<{ action: string }>(
      `select action from audit_events where target_id = $1 order by id`,
      [hostId],
      'ctp',
    );
    expect(back.map((a) => a.action)).toEqual(['host.register', 'host.down', 'host.up']);

    // The queued lab is placed on the host that came back and runs there.
    const placed = await until('the queued lab to run', async () => {
      const detail = await lab(second);
      return detail.status === 'running' && detail;
    });
    expect(placed.host?.id).toBe(hostId);
    const [secondVm] = await postgres.sql<{ driver_name: string }>('select driver_name from vms where lab_id = $1', [second], 'ctp');
    expect(alive(pidOf(secondVm!.driver_name))).toBe(true);
  }, 240_000);
});
