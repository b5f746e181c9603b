import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LabDetail, LabList, TemplateList, TokenResponse } from '@ctp/contracts';
import { ownerOf } from '@ctp/hypervisor';
import { qemuLeftovers, qemuProcesses } from '@ctp/hypervisor/test-support';
import { labPrefix } from '../labs/lab-operation.js';
import { destroyLeftoverGuests, freePort, ServerProcess } from '../test-support/server-process.js';
import { labs } from '../db/schema.js';
import { testDatabase } from '../test-support/test-database.js';

/** The VM names of the QEMU processes running under `dir` (from their `-name` argument). */
const runningVms = (dir: string) => qemuProcesses(dir).map((line) => / -name (\S+)/.exec(line)?.[1] ?? `unnamed: ${line}`);

// The real server, killed with SIGKILL while labs provision, then started again on the same data:
// PGlite in its data directory, or (with DATABASE_URL) the PostgreSQL server, where pg-boss keeps its jobs.
describe('crash recovery', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-crash-'));
  const vmsDir = path.join(dataDir, 'vms');
  let server: ServerProcess;

  afterAll(async () => {
    await server?.kill();
    // Whatever happened, no guest outlives the test.
    await destroyLeftoverGuests(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('brings every lab to a consistent state after a SIGKILL during provisioning, with no orphan and no lost record', async () => {
    server = new ServerProcess(await freePort(), {
      CTP_DATA_DIR: dataDir,
      CTP_ADMIN_PASSWORD: 'admin-password-1',
      CTP_JWT_SECRET: 'crash-test-secret-0123456789abcdef0123',
      LOG_LEVEL: 'info',
      // Lab jobs only: no reference VMs booting for saved states beside them.
      CTP_SAVED_STATES: 'false',
    });
    await server.start();
    const admin = (
      await server.request<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username: 'admin', password: 'admin-password-1' })
    ).json().accessToken;
    expect(
      (await server.request('POST', '/api/v1/users', admin, { username: 'crashy', password: 'crashy-password', role: 'student' })).status,
    ).toBe(201);
    const token = (
      await server.request<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username: 'crashy', password: 'crashy-password' })
    ).json().accessToken;
    const templateId = (await server.request<TemplateList>('GET', '/api/v1/templates', token)).json().items[0]!.id;
    const labIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const created = await server.request<LabDetail>('POST', '/api/v1/labs', token, { templateId });
      expect(created.status).toBe(202);
      labIds.push(created.json().id);
    }
    // Kill as soon as the hypervisor work has begun.
    const deadline = Date.now() + 30_000;
    while (qemuProcesses(vmsDir).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await server.kill('SIGKILL');
    const before = qemuProcesses(vmsDir).length;
    expect(before).toBeGreaterThan(0);

    await server.start();
    const token2 = (
      await server.request<TokenResponse>('POST', '/api/v1/auth/login', undefined, { username: 'crashy', password: 'crashy-password' })
    ).json().accessToken;
    // What the crash left: labs caught in the middle of provisioning (recorded, for the report).
    const atRestart = await Promise.all(
      labIds.map(async (id) => (await server.request<LabDetail>('GET', `/api/v1/labs/${id}`, token2)).json()),
    );
    console.log(
      'at restart:',
      atRestart.map((l) => `${l.status} ${l.progress.done}/${l.progress.total} ${l.progress.current ?? ''}`),
    );
    expect(atRestart.some((l) => l.status === 'provisioning')).toBe(true);
    const recoveryStarted = Date.now();
    for (const id of labIds) {
      const until = Date.now() + 120_000;
      let lab = (await server.request<LabDetail>('GET', `/api/v1/labs/${id}`, token2)).json();
      while (lab.status !== 'running' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        lab = (await server.request<LabDetail>('GET', `/api/v1/labs/${id}`, token2)).json();
      }
      expect(lab.status, JSON.stringify(lab.steps)).toBe('running');
      expect(lab.vms.map((vm) => vm.status)).toEqual(['running', 'running']);
    }
    console.log(`recovered in ${Date.now() - recoveryStarted} ms`);
    // Exactly the VMs the database knows run: nothing orphaned, nothing missing.
    const listed = (await server.request<LabList>('GET', '/api/v1/labs', token2)).json();
    expect(listed.total).toBe(2);
    const known = await Promise.all(
      listed.items.map(async (item) => (await server.request<LabDetail>('GET', `/api/v1/labs/${item.id}`, token2)).json()),
    );
    const expected = known.flatMap((lab) => lab.vms.filter((vm) => vm.status === 'running').map((vm) => `${labPrefix(lab.id)}-${vm.name}`));
    expect(expected).toHaveLength(4);
    expect(runningVms(vmsDir).sort()).toEqual(expected.sort());
    // The server ran on the database this test run names: with DATABASE_URL its labs are on that
    // PostgreSQL server (where pg-boss recovered the jobs), and it made no PGlite of its own.
    expect(existsSync(path.join(dataDir, 'pglite'))).toBe(!process.env.DATABASE_URL);
    if (process.env.DATABASE_URL) {
      const rows = await (await testDatabase()).db.select({ id: labs.id }).from(labs);
      expect(rows.map((row) => row.id).sort()).toEqual([...labIds].sort());
    }

    for (const id of labIds) expect((await server.request('DELETE', `/api/v1/labs/${id}`, token2)).status).toBe(202);
    for (const id of labIds) {
      const until = Date.now() + 60_000;
      while ((await server.request<LabDetail>('GET', `/api/v1/labs/${id}`, token2)).json().status !== 'deleted' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await server.kill('SIGTERM');
    expect(qemuLeftovers(vmsDir, ownerOf(path.join(dataDir, 'networks')))).toEqual([]);
  }, 300_000);
});
