import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabDetail } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages, SerialReader } from '@ctp/hypervisor/test-support';
import { DEMO_TARGET_PORTS } from '../services/demo-template.js';
import { createImageCatalog } from '../services/image-catalog.js';
import { openWebSocketStream } from '../test-support/console-client.js';
import { demoTemplateId, waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, teach, type TestContext } from '../test-support/test-app.js';

// "Network basics" as an exercise on real QEMU guests: per-lab flags delivered over the guest
// channel, read from inside the attacker, and a check that looks inside the student's VM.
describe('training content on real QEMU', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-content-qemu-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
    probeKernel: images.attacker.kernel,
  });
  let ctx: TestContext;
  let base: string;
  const students: Awaited<ReturnType<typeof signedIn>>[] = [];
  const labs: LabDetail[] = [];
  const flags: string[] = [];
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  const consoles: SerialReader[] = [];

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true, infra: { driver, images: createImageCatalog(DEMO_IMAGES_DIR) } });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    teacher = await signedIn(ctx, 'instructor');
  });
  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    driver.close();
    await ctx.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const vmOf = (lab: LabDetail, name: string) => lab.vms.find((vm) => vm.name === name)!;
  const serial = async (headers: Record<string, string>, vmId: string) => {
    const ticket = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/vms/${vmId}/console-tickets`,
      headers,
      payload: { kind: 'serial' },
    });
    expect(ticket.statusCode, ticket.body).toBe(201);
    const reader = new SerialReader(await openWebSocketStream(`${base}${ticket.json().url}`));
    consoles.push(reader);
    return reader;
  };
  const answer = (i: number, taskId: string, text: string) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/labs/${labs[i]!.id}/tasks/${taskId}/answers`,
      headers: students[i]!.headers,
      payload: { answer: text },
    });
  const check = (i: number, taskId: string) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/labs/${labs[i]!.id}/tasks/${taskId}/check`, headers: students[i]!.headers });

  it("each student reads their own lab's flag from inside their attacker; a flag from the other lab is refused and flagged", async () => {
    const templateId = await demoTemplateId(ctx);
    for (let i = 0; i < 2; i++) {
      students.push(await signedIn(ctx, 'student'));
      await teach(ctx, teacher.user.id, [students[i]!.user.id]);
      const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: students[i]!.headers, payload: { templateId } });
      expect(created.statusCode).toBe(202);
      labs.push({ id: created.json().id } as LabDetail);
    }
    for (let i = 0; i < 2; i++) {
      labs[i] = await waitForLab(ctx, students[i]!.headers, labs[i]!.id, (l) => l.status === 'running' || l.status === 'error', 120_000);
      expect(labs[i]!.status, JSON.stringify(labs[i]!.error)).toBe('running');
      const attacker = await serial(students[i]!.headers, vmOf(labs[i]!, 'attacker').id);
      await attacker.run('true', 90_000);
      const page = await attacker.run('wget -qO- http://10.0.0.20/flag.txt');
      const flag = /CTP\{[0-9a-f]{32}\}/.exec(page)?.[0];
      expect(flag, page).toBeDefined();
      flags.push(flag!);
    }
    expect(flags[0]).not.toBe(flags[1]);
    // The ports task's answer is target's real list of open TCP ports.
    const scan = await (
      await serial(students[0]!.headers, vmOf(labs[0]!, 'attacker').id)
    ).run('for p in $(seq 1 1024) 4444 8080; do nc -w 1 10.0.0.20 $p </dev/null >/dev/null 2>&1 && echo open:$p; done', 180_000);
    const open = [...scan.matchAll(/open:(\d+)/g)].map((m) => m[1]!);
    expect(open.sort()).toEqual([...DEMO_TARGET_PORTS].sort());
    expect((await answer(0, 'scan', open.reverse().join('  ,'))).json()).toMatchObject({ correct: true });
    expect((await answer(0, 'web-flag', flags[0]!)).json()).toMatchObject({ correct: true, awarded: 10 });
    expect((await answer(1, 'web-flag', flags[0]!)).json()).toMatchObject({ correct: false, awarded: 0 });
    expect((await answer(1, 'web-flag', flags[1]!)).json()).toMatchObject({ correct: true });
    const activity = (await ctx.app.inject({ url: `/api/v1/labs/${labs[1]!.id}/task-activity`, headers: teacher.headers })).json();
    expect(activity.items).toContainEqual(expect.objectContaining({ taskId: 'web-flag', correct: false, sharedFromLabId: labs[0]!.id }));
    // The flag never went over the kernel command line.
    const cmdline = await (await serial(students[0]!.headers, vmOf(labs[0]!, 'target').id)).run('cat /proc/cmdline', 60_000);
    expect(cmdline).not.toContain(flags[0]!);
  }, 480_000);

  it('passes the check only once the file is really written in the VM, and again after a revert', async () => {
    const attacker = await serial(students[0]!.headers, vmOf(labs[0]!, 'attacker').id);
    const banner = await attacker.run('nc -w 3 10.0.0.20 4444 </dev/null');
    const bannerFlag = /CTP\{banner-[0-9a-f]{24}\}/.exec(banner)?.[0];
    expect(bannerFlag, banner).toBeDefined();
    expect((await answer(0, 'banner', bannerFlag!)).json().correct).toBe(true);
    expect((await check(0, 'banner-file')).json()).toMatchObject({ passed: false });
    await attacker.run('nc -w 3 10.0.0.20 4444 </dev/null > /root/banner.txt');
    expect((await check(0, 'banner-file')).json()).toMatchObject({ passed: true, task: { state: 'solved' } });

    // Revert attacker to its initial (fresh-disk) snapshot and boot it: the file is gone, the check still runs.
    const attackerId = vmOf(labs[0]!, 'attacker').id;
    const headers = students[0]!.headers;
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${attackerId}/snapshots/initial/revert`, headers })).statusCode).toBe(
      204,
    );
    expect((await ctx.app.inject({ method: 'POST', url: `/api/v1/vms/${attackerId}/start`, headers })).statusCode).toBe(204);
    const after = await serial(headers, attackerId);
    // Type only once the rebooted guest's shell is up (keys typed during boot are lost).
    await after.waitFor('CTP-READY attacker', 90_000);
    await after.run('true', 60_000);
    expect((await check(0, 'banner-file')).json()).toMatchObject({ passed: false });
    await after.run('nc -w 3 10.0.0.20 4444 </dev/null > /root/banner.txt');
    expect((await check(0, 'banner-file')).json()).toMatchObject({ passed: true });
  }, 300_000);
});
