import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseImage, HypervisorDriver, VmSpec } from '../driver.js';
import { HypervisorError } from '../errors.js';

export interface ContractContext {
  driver: HypervisorDriver;
  /** A base image the driver can boot. */
  image: BaseImage;
  /** What the driver left on the host (processes, files, devices, rules); empty when all is clean. */
  leftovers(): Promise<string[]>;
  cleanup?(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: HypervisorError['code']): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected HypervisorError ${code}`).toBeInstanceOf(HypervisorError);
  expect((error as HypervisorError).code).toBe(code);
}

/**
 * The driver contract as tests: every driver runs this against its real hypervisor (and the fake
 * runs it in memory). Names are unique per run so that a run never meets another's leftovers.
 */
export function runDriverContract(name: string, makeContext: () => Promise<ContractContext>, timeoutMs = 60_000): void {
  describe(`${name} driver contract`, { timeout: timeoutMs }, () => {
    let ctx: ContractContext;
    const id = Math.random().toString(36).slice(2, 8);
    const net = `ct${id}-net`;
    const vmName = `ct${id}-vm`;
    const spec = (): VmSpec => ({ name: vmName, image: ctx.image, cpus: 1, memoryMiB: 128, nics: [{ network: net }] });

    beforeAll(async () => {
      ctx = await makeContext();
    }, timeoutMs);
    afterAll(async () => {
      await ctx.driver.destroyVm(vmName).catch(() => {});
      await ctx.driver.destroyNetwork(net).catch(() => {});
      await ctx.cleanup?.();
    }, timeoutMs);

    it('probes the host and reports capabilities as data', async () => {
      const host = await ctx.driver.probe();
      expect(host.driver).toBe(ctx.driver.kind);
      expect(host.version).toEqual(expect.any(String));
      expect(typeof host.capabilities.snapshots).toBe('boolean');
      expect(Array.isArray(host.capabilities.consoles)).toBe(true);
    });

    it('refuses invalid names with code invalid', async () => {
      await expectCode(ctx.driver.createVm({ ...spec(), name: '../evil' }), 'invalid');
      await expectCode(ctx.driver.createNetwork({ name: 'a b' }), 'invalid');
    });

    it('creates networks idempotently and lists them', async () => {
      await ctx.driver.createNetwork({ name: net, group: `ct${id}` });
      await ctx.driver.createNetwork({ name: net, group: `ct${id}` });
      expect((await ctx.driver.listNetworks()).filter((n) => n.name === net)).toEqual([{ name: net, group: `ct${id}` }]);
    });

    it('leaves nothing behind when a create fails', async () => {
      const broken: BaseImage = { kind: 'disk', path: '/nonexistent/does-not-exist.qcow2', format: 'qcow2' };
      await expectCode(ctx.driver.createVm({ ...spec(), name: `${vmName}-bad`, image: broken }), 'not_found');
      expect(await ctx.driver.getVm(`${vmName}-bad`)).toBeNull();
      await expectCode(ctx.driver.createVm({ ...spec(), name: `${vmName}-bad2`, nics: [{ network: `ct${id}-nonet` }] }), 'not_found');
      expect(await ctx.driver.getVm(`${vmName}-bad2`)).toBeNull();
    });

    it('creates a VM stopped, idempotently, and reports it without internal ids', async () => {
      const created = await ctx.driver.createVm(spec());
      expect(created).toMatchObject({ name: vmName, state: 'stopped', cpus: 1, memoryMiB: 128 });
      expect(created.nics).toEqual([{ network: net, mac: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/) }]);
      expect(await ctx.driver.createVm(spec())).toEqual(created);
      expect((await ctx.driver.listVms()).filter((vm) => vm.name === vmName)).toHaveLength(1);
      expect(Object.keys(created).sort()).toEqual(['consoles', 'cpus', 'memoryMiB', 'name', 'nics', 'state']);
      expect(await ctx.driver.getVm(`${vmName}-none`)).toBeNull();
      await expectCode(ctx.driver.startVm(`${vmName}-none`), 'not_found');
    });

    it('starts idempotently, pauses and resumes', async () => {
      await ctx.driver.startVm(vmName);
      await ctx.driver.startVm(vmName);
      expect((await ctx.driver.getVm(vmName))?.state).toBe('running');
      const { capabilities } = await ctx.driver.probe();
      if (capabilities.pause) {
        await ctx.driver.pauseVm(vmName);
        expect((await ctx.driver.getVm(vmName))?.state).toBe('paused');
        await ctx.driver.resumeVm(vmName);
        expect((await ctx.driver.getVm(vmName))?.state).toBe('running');
      } else {
        await expectCode(ctx.driver.pauseVm(vmName), 'unsupported');
      }
    });

    it('takes, lists, reverts and deletes snapshots', async () => {
      const { capabilities } = await ctx.driver.probe();
      if (!capabilities.snapshots) return expectCode(ctx.driver.takeSnapshot(vmName, 's1'), 'unsupported');
      const taken = await ctx.driver.takeSnapshot(vmName, 's1');
      expect(taken).toMatchObject({ name: 's1', withMemory: capabilities.liveSnapshots });
      expect((await ctx.driver.listSnapshots(vmName)).map((s) => s.name)).toEqual(['s1']);
      await ctx.driver.revertSnapshot(vmName, 's1');
      expect((await ctx.driver.getVm(vmName))?.state).toBe(capabilities.liveSnapshots ? 'running' : 'stopped');
      await expectCode(ctx.driver.revertSnapshot(vmName, 'nope'), 'not_found');
      await ctx.driver.deleteSnapshot(vmName, 's1');
      await ctx.driver.deleteSnapshot(vmName, 's1');
      expect(await ctx.driver.listSnapshots(vmName)).toEqual([]);
    });

    it('refuses the guest channel of a VM that is not running', async () => {
      const { capabilities } = await ctx.driver.probe();
      if (!capabilities.guestAgent) return;
      const stopped = `${vmName}-off`;
      await ctx.driver.createVm({ ...spec(), name: stopped });
      try {
        await expectCode(ctx.driver.guestWriteFile(stopped, { path: '/tmp/x', content: 'x' }), 'invalid_state');
        await expectCode(ctx.driver.guestExec(stopped, { argv: ['true'] }), 'invalid_state');
      } finally {
        await ctx.driver.destroyVm(stopped);
      }
    });

    it('opens a serial console stream while running', async () => {
      const { capabilities } = await ctx.driver.probe();
      if (!capabilities.consoles.includes('serial')) return;
      const stream = await ctx.driver.openConsole(vmName, 'serial');
      expect(typeof stream.write).toBe('function');
      stream.destroy();
    });

    it('delivers files and runs commands over the private guest channel', async () => {
      const { capabilities } = await ctx.driver.probe();
      if (!capabilities.guestAgent) return expectCode(ctx.driver.guestExec(vmName, { argv: ['true'] }), 'unsupported');
      await ctx.driver.waitForGuestAgent(vmName, 60_000);
      const secret = `contract-${id}-${Math.random().toString(36).slice(2)}`;
      await ctx.driver.guestWriteFile(vmName, { path: `/tmp/ct${id}/dir/secret.txt`, content: `${secret}\n`, mode: 0o600 });
      expect(await ctx.driver.guestExec(vmName, { argv: ['cat', `/tmp/ct${id}/dir/secret.txt`] })).toMatchObject({
        exitCode: 0,
        stdout: `${secret}\n`,
      });
      expect((await ctx.driver.guestExec(vmName, { argv: ['test', '-f', `/tmp/ct${id}/none`] })).exitCode).toBe(1);
      const missing = await ctx.driver.guestExec(vmName, { argv: ['cat', `/tmp/ct${id}/none`] });
      expect(missing.exitCode).not.toBe(0);
      expect(missing.stderr).toContain(`/tmp/ct${id}/none`);
      await expectCode(ctx.driver.guestExec(`${vmName}-none`, { argv: ['true'] }), 'not_found');
    });

    it('saves a running state and starts a new VM from it, or says it cannot', async () => {
      const { capabilities } = await ctx.driver.probe();
      const state = `ct${id}-state`;
      if (!capabilities.savedStates) return expectCode(ctx.driver.saveState(vmName, state), 'unsupported');
      await ctx.driver.startVm(vmName);
      const saved = await ctx.driver.saveState(vmName, state);
      expect(saved).toMatchObject({ name: state, hypervisorVersion: expect.any(String), machine: expect.any(String) });
      expect((await ctx.driver.getVm(vmName))?.state).toBe('stopped');
      const clone = `${vmName}-restored`;
      const created = await ctx.driver.createVm({ ...spec(), name: clone, savedState: state });
      // The saved VM's MACs: the guest resumes with the identity it had.
      expect(created.nics.map((n) => n.mac)).toEqual((await ctx.driver.getVm(vmName))!.nics.map((n) => n.mac));
      await ctx.driver.startVm(clone);
      expect((await ctx.driver.getVm(clone))?.state).toBe('running');
      await ctx.driver.destroyVm(clone);
      await ctx.driver.deleteSavedState(state);
      await ctx.driver.deleteSavedState(state);
      expect((await ctx.driver.listSavedStates()).some((s) => s.name === state)).toBe(false);
      await expectCode(ctx.driver.createVm({ ...spec(), name: clone, savedState: state }), 'not_found');
      expect(await ctx.driver.getVm(clone)).toBeNull();
    });

    it('stops idempotently', async () => {
      await ctx.driver.stopVm(vmName, { timeoutMs: 1000 });
      await ctx.driver.stopVm(vmName, { timeoutMs: 1000 });
      expect((await ctx.driver.getVm(vmName))?.state).toBe('stopped');
    });

    it('destroys VMs and networks idempotently and leaves nothing behind', async () => {
      await ctx.driver.destroyVm(vmName);
      await ctx.driver.destroyVm(vmName);
      await ctx.driver.destroyNetwork(net);
      await ctx.driver.destroyNetwork(net);
      expect(await ctx.driver.getVm(vmName)).toBeNull();
      expect((await ctx.driver.listNetworks()).some((n) => n.name === net)).toBe(false);
      expect(await ctx.leftovers()).toEqual([]);
    });
  });
}
