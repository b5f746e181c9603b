import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LabDetail } from '@ctp/contracts';
import { labPrefix } from '../labs/lab-operation.js';
import { DEMO_TEMPLATE } from '../services/template.service.js';

const DEMO_IMAGE = { kind: 'disk' as const, path: '/images/ref.qcow2', format: 'qcow2' as const };
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

// Which path each VM takes (saved state or boot) and why, on the memory driver with real jobs.
describe('labs from saved template states (memory driver)', () => {
  let ctx: TestContext;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;

  beforeAll(async () => {
    // A host of 2 cores (1 restore per core: 2 at once), with room for every lab of these tests.
    ctx = await createTestApp(
      { savedStates: true, maxLabsPerUser: 20, warmPoolReserveMiB: 0, restoresPerCore: 1 },
      { background: true, infra: { hostCapacity: () => ({ cpus: 2, memoryMiB: 64 * 1024 }) } },
    );
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    ctx.driver.vms.clear();
    ctx.driver.networks.clear();
    ctx.driver.savedStates.clear();
    alice = await signedIn(ctx, 'student');
    admin = await signedIn(ctx, 'admin');
    templateId = await demoTemplateId(ctx);
  });

  const startLab = async (): Promise<LabDetail> => {
    const response = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: alice.headers, payload: { templateId } });
    expect(response.statusCode, response.body).toBe(202);
    return waitForLab(ctx, alice.headers, response.json().id, (l) => l.status === 'running' || l.status === 'error');
  };
  const startSteps = (lab: LabDetail) => lab.steps.filter((s) => s.name.startsWith('Start ')).map((s) => s.name);
  const statesReady = async (count: number) => {
    await expect
      .poll(async () => (await ctx.services.templateStates.list(templateId)).filter((s) => s.status === 'ready').length, {
        timeout: 20_000,
      })
      .toBe(count);
    return ctx.services.templateStates.list(templateId);
  };
  const driverVm = (lab: LabDetail, name: string) =>
    [...ctx.driver.vms.keys()].find((k) => k.endsWith(`-${name}`) && k.includes(lab.id.replaceAll('-', '').slice(0, 16)))!;

  it('boots the first lab, prepares the states in the background, and restores the next labs from them', async () => {
    // What the reference VMs get written before they are saved.
    const prepared: string[] = [];
    const write = ctx.driver.guestWriteFile.bind(ctx.driver);
    const spy = vi.spyOn(ctx.driver, 'guestWriteFile').mockImplementation(async (vm, file) => {
      if (vm.startsWith('ts')) prepared.push(`${vm.split('-').pop()} ${file.path} ${file.content.length} ${file.mode?.toString(8)}`);
      return write(vm, file);
    });
    const first = await startLab();
    expect(first.status).toBe('running');
    expect(startSteps(first)).toEqual(['Start attacker (cold boot: no saved state yet)', 'Start target (cold boot: no saved state yet)']);
    const states = await statesReady(2);
    spy.mockRestore();
    expect(states.map((s) => [s.vmName, s.templateVersion, s.status]).sort()).toEqual([
      ['attacker', 1, 'ready'],
      ['target', 1, 'ready'],
    ]);
    // Each reference VM was saved with its identity file and its own lab files empty, in their modes.
    expect(prepared.sort()).toEqual([
      'ref /etc/ctp/banner 0 644',
      'ref /etc/ctp/identity 0 644',
      'ref /etc/ctp/identity 0 644',
      'ref /var/www/flag.txt 0 644',
    ]);
    // The reference VMs and their networks are gone; only the labs' are left.
    expect([...ctx.driver.vms.keys()].every((k) => !k.startsWith('ts'))).toBe(true);
    expect(ctx.driver.savedStates.size).toBe(2);

    const waits: string[] = [];
    const waitForAgent = ctx.driver.waitForGuestAgent.bind(ctx.driver);
    const waitSpy = vi.spyOn(ctx.driver, 'waitForGuestAgent').mockImplementation(async (vm, timeoutMs) => {
      waits.push(vm.split('-').pop()!);
      return waitForAgent(vm, timeoutMs);
    });
    const second = await startLab();
    // Ready as soon as it runs: the restored guests answered their agent for their identity, and
    // are not asked again (the attacker once, the target once more for its files).
    await expect.poll(async () => (await ctx.services.repositories.labs.findById(second.id))?.readyAt, { timeout: 5000 }).toBeTruthy();
    waitSpy.mockRestore();
    expect(waits.sort()).toEqual(['attacker', 'target', 'target']);
    expect(startSteps(second)).toEqual(['Start attacker (restored from saved state)', 'Start target (restored from saved state)']);
    expect(ctx.driver.lastStart(driverVm(second, 'attacker'))).toBe('saved-state');
    expect(ctx.driver.lastStart(driverVm(first, 'attacker'))).toBe('boot');
    // Each restored guest learns its own lab over the guest channel (the reference booted without one).
    for (const [lab, vm] of [
      [second, 'attacker'],
      [second, 'target'],
    ] as const) {
      const identity = ctx.driver.vms.get(driverVm(lab, vm))!.files.get('/etc/ctp/identity')?.content.toString();
      expect(identity).toBe(
        `hostname=${vm}\nlab=${labPrefix(lab.id)}\nip0=${vm === 'attacker' ? '10.0.0.10' : '10.0.0.20'}/24\nip=${vm === 'attacker' ? '10.0.0.10' : '10.0.0.20'}/24\n`,
      );
    }
    // A booted guest has it on its command line: nothing is written.
    expect(ctx.driver.vms.get(driverVm(first, 'attacker'))!.files.has('/etc/ctp/identity')).toBe(false);
    // A restored guest's files are filled in place (prepared by its state); a booted one's are written whole.
    const files = (lab: LabDetail, vm: string) => ctx.driver.vms.get(driverVm(lab, vm))!.files;
    expect(files(second, 'attacker').get('/etc/ctp/identity')?.prepared).toBe(true);
    expect(files(second, 'target').get('/var/www/flag.txt')).toMatchObject({ mode: 0o644, prepared: true });
    expect(files(first, 'target').get('/var/www/flag.txt')).toMatchObject({ mode: 0o644 });
    expect(files(first, 'target').get('/var/www/flag.txt')?.prepared).toBeUndefined();
    // The lab's addresses are the template's either way.
    expect(second.vms.map((vm) => vm.addresses[0]?.address)).toEqual(['10.0.0.10', '10.0.0.20']);
    // Nothing of the states reaches a student.
    expect(JSON.stringify(second)).not.toMatch(/ts[0-9a-f]{12}/);

    // Reset resumes the saved state again; stop and start boot from the disk.
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${second.id}/reset`, headers: alice.headers })).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, second.id, (l) => l.status === 'running' && l.steps[0]?.name.startsWith('Revert') === true);
    expect(ctx.driver.lastStart(driverVm(second, 'attacker'))).toBe('saved-state');
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${second.id}/stop`, headers: alice.headers })).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, second.id, (l) => l.status === 'stopped');
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${second.id}/start`, headers: alice.headers })).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, second.id, (l) => l.status === 'running');
    expect(ctx.driver.lastStart(driverVm(second, 'attacker'))).toBe('boot');
  });

  it('restores at most CTP_RESTORES_PER_CORE × cores VMs at once per host; the others wait their turn', async () => {
    await startLab();
    await statesReady(2);
    let inFlight = 0;
    let most = 0;
    const start = ctx.driver.startVm.bind(ctx.driver);
    const spy = vi.spyOn(ctx.driver, 'startVm').mockImplementation(async (vm, ...rest) => {
      most = Math.max(most, ++inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 40));
        return await start(vm, ...rest);
      } finally {
        inFlight--;
      }
    });
    try {
      const labs = await Promise.all([startLab(), startLab(), startLab()]);
      expect(labs.map((l) => l.status)).toEqual(['running', 'running', 'running']);
      expect(labs.flatMap(startSteps).every((name) => name.endsWith('(restored from saved state)'))).toBe(true);
      // Six restored VMs, two at a time on this 2-core host (without the limit all six start at once).
      expect(most).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('falls back to a boot, with the reason, when a state is damaged or missing, and prepares a new one', async () => {
    await startLab();
    const [attacker, target] = (await statesReady(2)).sort((a, b) => a.vmName.localeCompare(b.vmName));
    ctx.driver.corruptSavedState(attacker!.stateName);
    ctx.driver.savedStates.delete(target!.stateName);
    const lab = await startLab();
    expect(lab.status).toBe('running');
    expect(startSteps(lab)).toEqual([
      'Start attacker (cold boot: the saved state failed to load)',
      'Start target (cold boot: the saved state is missing)',
    ]);
    expect(ctx.driver.lastStart(driverVm(lab, 'attacker'))).toBe('boot');
    // Both are replaced by new states in the background, and the damaged one, which no lab uses, is deleted.
    const states = await statesReady(2);
    expect(states.filter((s) => s.status === 'ready').map((s) => s.stateName)).not.toContain(attacker!.stateName);
    await expect.poll(() => ctx.driver.savedStates.has(attacker!.stateName), { timeout: 20_000 }).toBe(false);
    const next = await startLab();
    expect(startSteps(next)).toEqual(['Start attacker (restored from saved state)', 'Start target (restored from saved state)']);
  });

  it('keeps the reference VM of a state being prepared from reconciliation, and removes it once abandoned', async () => {
    const stateName = 'ts0123456789abcdef01';
    const row = await ctx.services.repositories.templateStates.claim(
      {
        templateId,
        templateVersion: 1,
        vmName: 'attacker',
        key: 'k'.repeat(64),
        image: 'demo-attacker',
        hypervisorVersion: '1',
        machine: 'fake',
        stateName,
      },
      60_000,
    );
    await ctx.driver.createNetwork({ name: `${stateName}-n0` });
    await ctx.driver.createVm({
      name: `${stateName}-ref`,
      image: DEMO_IMAGE,
      cpus: 1,
      memoryMiB: 128,
      nics: [{ network: `${stateName}-n0` }],
    });
    expect((await ctx.services.maintenance.reconcile()).orphansDestroyed).toEqual([]);
    expect(ctx.driver.vms.has(`${stateName}-ref`)).toBe(true);
    await ctx.services.repositories.templateStates.update(row!.id, { status: 'failed', error: 'server died' });
    const report = await ctx.services.maintenance.reconcile();
    expect(report.orphansDestroyed).toEqual([`${stateName}-ref`]);
    expect(report.networksDestroyed).toEqual([`${stateName}-n0`]);
  });

  it("hands over a pool lab that resumed saved states with its files filled in place, and no other lab's", async () => {
    await startLab();
    await statesReady(2);
    const pool = (size?: number) =>
      ctx.app.inject({
        method: size === undefined ? 'GET' : 'PUT',
        url: `/api/v1/templates/${templateId}/warm-pool`,
        headers: admin.headers,
        ...(size === undefined ? {} : { payload: { size } }),
      });
    expect((await pool(1)).statusCode).toBe(200);
    await expect.poll(async () => (await pool()).json().ready, { timeout: 20_000 }).toBe(1);
    const [pooled] = (await pool()).json().labs as { id: string }[];
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: alice.headers, payload: { templateId } });
    expect(created.json().id).toBe(pooled!.id);
    const lab = await waitForLab(
      ctx,
      alice.headers,
      pooled!.id,
      (l) => l.steps[0]?.name === 'Generate lab secrets' && l.steps.every((s) => s.status === 'done'),
    );
    expect(ctx.driver.lastStart(driverVm(lab, 'target'))).toBe('saved-state');
    const flag = ctx.services.tasks.secretValues(lab.id, DEMO_TEMPLATE).web_flag!;
    expect(ctx.driver.vms.get(driverVm(lab, 'target'))!.files.get('/var/www/flag.txt')).toMatchObject({
      content: Buffer.from(`${flag}\n`),
      prepared: true,
    });
    expect((await pool(0)).statusCode).toBe(200);
  });

  it('makes new states for a new template version, and boots VMs the template marks cold', async () => {
    await startLab();
    const old = await statesReady(2);
    const config = { ...DEMO_TEMPLATE, vms: DEMO_TEMPLATE.vms.map((vm) => (vm.name === 'target' ? { ...vm, boot: 'cold' as const } : vm)) };
    const updated = await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/templates/${templateId}`,
      headers: admin.headers,
      payload: { config },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    // Publishing (here: a new version of a published template) prepares in the background.
    await expect
      .poll(
        async () =>
          (await ctx.services.templateStates.list(templateId)).filter((s) => s.templateVersion === 2 && s.status === 'ready').length,
        {
          timeout: 20_000,
        },
      )
      .toBe(1);
    const states = await ctx.services.templateStates.list(templateId);
    const v2 = states.find((s) => s.templateVersion === 2)!;
    expect(v2.vmName).toBe('attacker');
    expect(v2.key).not.toBe(old.find((s) => s.vmName === 'attacker')!.key);
    const lab = await startLab();
    expect(startSteps(lab)).toEqual(['Start attacker (restored from saved state)', 'Start target (cold boot: the template asks for it)']);
  });

  it('boots guests configured per lab (cloud-init): no saved state, and each lab gets its own generated login', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ctp-ci-disk-'));
    const disk = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
    const uploaded = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/images?name=ci-disk&format=qcow2&configMethod=cloud-init',
      headers: { ...admin.headers, 'content-type': 'application/octet-stream' },
      payload: readFileSync(disk),
    });
    rmSync(dir, { recursive: true, force: true });
    expect(uploaded.statusCode, uploaded.body).toBe(201);
    const config = {
      version: 1,
      title: 'Cloud-init box',
      networks: [{ name: 'lan', cidr: '10.0.4.0/24' }],
      vms: [{ name: 'box', image: 'ci-disk', memoryMiB: 256, nics: [{ network: 'lan', address: '10.0.4.10' }] }],
    };
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: admin.headers, payload: { config } });
    expect(created.statusCode, created.body).toBe(201);
    templateId = created.json().id;
    const published = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: admin.headers });
    expect(published.statusCode, published.body).toBe(200);

    const [first, second] = [await startLab(), await startLab()];
    for (const lab of [first, second]) {
      expect(lab.status).toBe('running');
      expect(startSteps(lab)).toEqual(['Start box (cold boot: its guest is configured per lab (cloud-init))']);
    }
    const passwords = [first, second].map((lab) => lab.vms[0]!.credentials?.password);
    expect(passwords[0]).toMatch(/^\w{14}$/);
    expect(passwords[1]).not.toBe(passwords[0]);
    // Nothing was prepared for it: a saved state would hand every lab the same login.
    expect(await ctx.services.templateStates.list(templateId)).toEqual([]);
    expect(ctx.driver.savedStates.size).toBe(0);
  });
});
