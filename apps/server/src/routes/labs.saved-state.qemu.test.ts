import { chmodSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabDetail } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages, qemuLeftovers, SerialReader } from '@ctp/hypervisor/test-support';
import { labPrefix } from '../labs/lab-operation.js';
import { createImageCatalog } from '../services/image-catalog.js';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

// Labs whose VMs resume the template's saved running state, on real QEMU guests.
describe('labs from saved template states on real QEMU', { timeout: 240_000 }, () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-labs-saved-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.attacker.kernel,
    tcgTranslationCacheMiB: 32,
  });
  let ctx: TestContext;
  let alice: Awaited<ReturnType<typeof signedIn>>;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  let templateId: string;
  const consoles: SerialReader[] = [];
  const labs: LabDetail[] = [];

  beforeAll(async () => {
    ctx = await createTestApp(
      { savedStates: true, maxLabsPerUser: 10 },
      { background: true, infra: { driver, images: createImageCatalog(DEMO_IMAGES_DIR) } },
    );
    alice = await signedIn(ctx, 'student');
    admin = await signedIn(ctx, 'admin');
    templateId = await demoTemplateId(ctx);
  });
  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    for (const state of await driver.listSavedStates()) await driver.deleteSavedState(state.name);
    driver.close();
    await ctx.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const startLab = async (): Promise<LabDetail> => {
    const response = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: alice.headers, payload: { templateId } });
    expect(response.statusCode, response.body).toBe(202);
    const lab = await waitForLab(ctx, alice.headers, response.json().id, (l) => l.status === 'running' || l.status === 'error', 90_000);
    labs.push(lab);
    return lab;
  };
  const serial = async (lab: LabDetail, name: string) => {
    const vm = lab.vms.find((v) => v.name === name)!;
    const driverName = (await ctx.services.repositories.labs.vmsOf(lab.id)).find((v) => v.id === vm.id)!.driverName;
    const reader = new SerialReader(await driver.openConsole(driverName, 'serial'));
    consoles.push(reader);
    return reader;
  };
  const startSteps = (lab: LabDetail) => lab.steps.filter((s) => s.name.startsWith('Start ')).map((s) => s.name);

  it('prepares the states of the template once, then starts labs from them with the template addresses, each its own lab and secrets', async () => {
    await ctx.services.templateStates.prepare(templateId, 1);
    const states = await ctx.services.templateStates.list(templateId);
    expect(states.map((s) => [s.vmName, s.status]).sort()).toEqual([
      ['attacker', 'ready'],
      ['target', 'ready'],
    ]);
    const [a, b] = [await startLab(), await startLab()];
    for (const lab of [a, b]) {
      expect(startSteps(lab)).toEqual(['Start attacker (restored from saved state)', 'Start target (restored from saved state)']);
      expect(lab.vms.map((vm) => [vm.name, vm.status, vm.addresses[0]?.address])).toEqual([
        ['attacker', 'running', '10.0.0.10'],
        ['target', 'running', '10.0.0.20'],
      ]);
    }
    // Lab B's target gets a page of its own; each lab's attacker reaches its own target only.
    const targetB = await serial(b, 'target');
    await targetB.run('echo only-in-b > /var/www/mark.html');
    const attackerA = await serial(a, 'attacker');
    const attackerB = await serial(b, 'attacker');
    expect(await attackerA.run('ip -o -4 addr show eth0')).toContain('10.0.0.10/24');
    // Each restored guest knows its own lab (delivered over the guest channel, not booted with it)
    // and serves its own lab's secrets: the two labs from one saved state differ.
    const flags: string[] = [];
    for (const [lab, attacker] of [
      [a, attackerA],
      [b, attackerB],
    ] as const) {
      const other = labPrefix((lab === a ? b : a).id);
      const own = await attacker.run("echo lab=$(sed -n 's/^lab=//p' /etc/ctp/identity)");
      expect(own).toContain(`lab=${labPrefix(lab.id)}`);
      const page = await attacker.run('wget -qO- http://10.0.0.20/');
      expect(page).toContain(`Lab ${labPrefix(lab.id)}`);
      expect(page + own).not.toContain(other);
      const flag = ctx.services.tasks.secretValues(lab.id, DEMO_TEMPLATE).web_flag!;
      expect(await attacker.run('wget -qO- http://10.0.0.20/flag.txt')).toContain(flag);
      flags.push(flag);
    }
    expect(flags[0]).not.toBe(flags[1]);
    expect(await targetB.run("echo lab=$(sed -n 's/^lab=//p' /etc/ctp/identity) host=$(hostname)")).toContain(
      `lab=${labPrefix(b.id)} host=target`,
    );
    // The identity and the flag were filled into the files the saved state prepared: their modes
    // are the prepared ones (the agent alone would have made new files 0644 or left remnants).
    expect(await targetB.run('stat -c "%a %U:%G %n" /etc/ctp/identity /var/www/flag.txt')).toMatch(
      /644 root:root \/etc\/ctp\/identity\s+644 root:root \/var\/www\/flag.txt/,
    );
    expect(await attackerA.run('wget -qO- http://10.0.0.20/')).toContain('Welcome to target');
    expect(await attackerB.run('wget -qO- http://10.0.0.20/mark.html')).toContain('only-in-b');
    expect(await attackerA.run('wget -qO- http://10.0.0.20/mark.html; echo rc=$?')).not.toContain('only-in-b');
    // Nothing outside the lab: not the host, not the internet.
    expect(await attackerA.run('ping -c 1 -w 2 10.0.0.1 >/dev/null 2>&1; echo rc=$?')).toContain('rc=1');
    expect(await attackerA.run('wget -T 2 -qO- http://1.1.1.1/ >/dev/null 2>&1; echo rc=$?')).not.toContain('rc=0');
  });

  it('resets a restored VM to the saved state', async () => {
    const lab = labs[0]!;
    const attacker = await serial(lab, 'attacker');
    expect(await attacker.run('echo broken > /root/damage && ls /root')).toContain('damage');
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${lab.id}/reset`, headers: alice.headers })).statusCode).toBe(202);
    await waitForLab(ctx, alice.headers, lab.id, (l) => l.status === 'running' && l.steps[0]!.name.startsWith('Revert'), 60_000);
    const after = await serial(lab, 'attacker');
    const listing = await after.run('ls /root; echo listed');
    expect(listing).toContain('listed');
    expect(listing).not.toContain('damage');
  });

  it('makes a new state for a new template version, and boots when that state is damaged, saying why', async () => {
    const v1 = await ctx.services.templateStates.list(templateId);
    const config = { ...DEMO_TEMPLATE, vms: DEMO_TEMPLATE.vms.map((vm) => (vm.name === 'target' ? { ...vm, boot: 'cold' as const } : vm)) };
    const updated = await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/templates/${templateId}`,
      headers: admin.headers,
      payload: { config },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    await expect
      .poll(async () => (await ctx.services.templateStates.list(templateId)).find((s) => s.templateVersion === 2)?.status, {
        timeout: 90_000,
      })
      .toBe('ready');
    const v2 = (await ctx.services.templateStates.list(templateId)).find((s) => s.templateVersion === 2)!;
    expect(v2.vmName).toBe('attacker');
    expect(v1.map((s) => s.stateName)).not.toContain(v2.stateName);
    const memory = path.join(stateDir, '.saved-states', v2.stateName, 'memory.state');
    chmodSync(memory, 0o644);
    truncateSync(memory, 65536);
    const lab = await startLab();
    expect(lab.status).toBe('running');
    expect(startSteps(lab)).toEqual([
      'Start attacker (cold boot: the saved state failed to load)',
      'Start target (cold boot: the template asks for it)',
    ]);
    const attacker = await serial(lab, 'attacker');
    await attacker.waitFor('CTP-READY attacker attacker', 90_000);
  });

  it('deletes the labs and leaves no VM, device or rule behind', async () => {
    for (const c of consoles) c.close();
    for (const lab of labs) {
      expect((await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: alice.headers })).statusCode).toBe(202);
      await waitForLab(ctx, alice.headers, lab.id, (l) => l.status === 'deleted', 60_000);
    }
    // Background preparation (after the damaged state) may still be running: wait for its reference VM to go.
    await expect.poll(async () => (await driver.listVms()).length, { timeout: 90_000 }).toBe(0);
    for (const state of await driver.listSavedStates()) await driver.deleteSavedState(state.name);
    driver.close();
    expect(qemuLeftovers(stateDir)).toEqual([]);
  });
});
