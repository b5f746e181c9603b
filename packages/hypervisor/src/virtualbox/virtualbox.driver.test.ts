import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HypervisorError } from '../errors.js';
import { shortHash } from '../short-hash.js';
import { ScriptedRunner, type Expected } from '../test-support/scripted-runner.js';
import { VirtualBoxDriver } from './virtualbox.driver.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const V = (...args: string[]) => ['VBoxManage', '-q', ...args];
const appliance = { kind: 'appliance' as const, path: '/images/target.ova' };
const base = `ctpbase-${shortHash('/images/target.ova', 10)}`;
const notFound = (version: '6.1' | '7.0'): Partial<Expected> => ({ code: 1, stderr: fixture(`error-not-found-${version}.txt`) });
const vmInfo = (state: string, intnet = 'x') =>
  fixture('showvminfo-6.1-poweroff.txt').replace('VMState="poweroff"', `VMState="${state}"`).replace('ctp-3f9a1c2e7b', intnet);

/** A driver on a scripted VBoxManage of the given version, with one network already made. */
function setup(version: '6.1.50r161033' | '7.0.14r161095', script: Expected[]) {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-'));
  const runner = new ScriptedRunner([{ argv: ['VBoxManage', '--version'], stdout: `${version}\n` }, ...script]);
  const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
  return { driver, runner, stateDir };
}

async function intnetOf(driver: VirtualBoxDriver, stateDir: string, network: string): Promise<string> {
  await driver.createNetwork({ name: network, group: 'lab1' });
  return (JSON.parse(readFileSync(path.join(stateDir, 'virtualbox.json'), 'utf8')) as { networks: Record<string, { intnet: string }> })
    .networks[network]!.intnet;
}

describe('VirtualBox driver: exact VBoxManage argv', () => {
  for (const [version, series] of [
    ['6.1.50r161033', '6.1'],
    ['7.0.14r161095', '7.0'],
  ] as const) {
    it(`creates a linked clone on an internal network, importing the base once (${series})`, async () => {
      const { driver, runner, stateDir } = setup(version, []);
      const intnet = await intnetOf(driver, stateDir, 'lab1-lan');
      expect(intnet).toMatch(/^ctp-[0-9a-f]{12}$/);
      const serial = path.join(stateDir, 'lab1-box.serial');
      const port = String(5900 + (parseInt(shortHash('lab1-box', 6), 16) % 1000));
      const hyphenated = series === '7.0';
      runner.remaining().push(
        { argv: V('showvminfo', base, '--machinereadable'), ...notFound(series) },
        { argv: V('import', '/images/target.ova', '--vsys', '0', '--vmname', base) },
        { argv: V('snapshot', base, 'take', 'ctp-base') },
        { argv: V('clonevm', base, '--snapshot', 'ctp-base', '--options', 'link', '--name', 'lab1-box', '--groups', '/ctp', '--register') },
        {
          argv: V(
            'modifyvm',
            'lab1-box',
            '--cpus',
            '2',
            '--memory',
            '512',
            '--nic1',
            'intnet',
            '--intnet1',
            intnet,
            hyphenated ? '--nic-type1' : '--nictype1',
            'virtio',
            '--uart1',
            '0x3F8',
            '4',
            hyphenated ? '--uart-mode1' : '--uartmode1',
            'server',
            serial,
            '--vrde',
            'on',
            hyphenated ? '--vrde-port' : '--vrdeport',
            port,
            hyphenated ? '--vrde-address' : '--vrdeaddress',
            '127.0.0.1',
          ),
        },
        { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('poweroff', intnet) },
      );
      const vm = await driver.createVm({ name: 'lab1-box', image: appliance, cpus: 2, memoryMiB: 512, nics: [{ network: 'lab1-lan' }] });
      expect(vm).toEqual({
        name: 'lab1-box',
        state: 'stopped',
        cpus: 1,
        memoryMiB: 1024,
        nics: [{ network: 'lab1-lan', mac: '08:00:27:e5:fa:8f' }],
        consoles: ['serial', 'vnc'],
      });
      expect(runner.remaining()).toEqual([]);
    });

    it(`removes a half-made clone when configuring it fails (${series})`, async () => {
      const { driver, runner, stateDir } = setup(version, []);
      const intnet = await intnetOf(driver, stateDir, 'lab1-lan');
      const hyphenated = series === '7.0';
      const port = String(5900 + (parseInt(shortHash('lab1-box', 6), 16) % 1000));
      runner.remaining().push(
        { argv: V('showvminfo', base, '--machinereadable'), stdout: vmInfo('poweroff') },
        { argv: V('clonevm', base, '--snapshot', 'ctp-base', '--options', 'link', '--name', 'lab1-box', '--groups', '/ctp', '--register') },
        {
          argv: V(
            'modifyvm',
            'lab1-box',
            '--cpus',
            '1',
            '--memory',
            '128',
            '--nic1',
            'intnet',
            '--intnet1',
            intnet,
            hyphenated ? '--nic-type1' : '--nictype1',
            'virtio',
            '--uart1',
            '0x3F8',
            '4',
            hyphenated ? '--uart-mode1' : '--uartmode1',
            'server',
            path.join(stateDir, 'lab1-box.serial'),
            '--vrde',
            'on',
            hyphenated ? '--vrde-port' : '--vrdeport',
            port,
            hyphenated ? '--vrde-address' : '--vrdeaddress',
            '127.0.0.1',
          ),
          code: 1,
          stderr: 'VBoxManage: error: Could not set the serial port mode: path is in use\n',
        },
        { argv: V('unregistervm', 'lab1-box', '--delete') },
      );
      const error = await driver
        .createVm({ name: 'lab1-box', image: appliance, cpus: 1, memoryMiB: 128, nics: [{ network: 'lab1-lan' }] })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'command_failed', message: expect.stringContaining('serial port mode') });
      expect(runner.remaining()).toEqual([]);
      expect(await driver.getVm('lab1-box')).toBeNull();
    });
  }

  it('starts headless, and leaves a running VM alone', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-'));
    const state = { vms: { 'lab1-box': { vrdePort: 5901 } }, networks: {} };
    const script = new ScriptedRunner([
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('poweroff') },
      { argv: V('startvm', 'lab1-box', '--type', 'headless') },
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('running') },
    ]);
    const d = new VirtualBoxDriver({ stateDir, runner: script.run });
    (await import('node:fs')).writeFileSync(path.join(stateDir, 'virtualbox.json'), JSON.stringify(state));
    await d.startVm('lab1-box');
    await d.startVm('lab1-box');
    expect(script.remaining()).toEqual([]);
  });

  it('stops gracefully with the ACPI button, then forces power off after the timeout', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-'));
    const graceful = new ScriptedRunner([
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('running') },
      { argv: V('controlvm', 'lab1-box', 'acpipowerbutton') },
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('poweroff') },
    ]);
    await new VirtualBoxDriver({ stateDir, runner: graceful.run }).stopVm('lab1-box', { timeoutMs: 2000 });
    expect(graceful.remaining()).toEqual([]);
    const stubborn = new ScriptedRunner([
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('running') },
      { argv: V('controlvm', 'lab1-box', 'acpipowerbutton') },
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('running') },
      { argv: V('controlvm', 'lab1-box', 'poweroff') },
    ]);
    await new VirtualBoxDriver({ stateDir, runner: stubborn.run }).stopVm('lab1-box', { timeoutMs: 300 });
    expect(stubborn.remaining()).toEqual([]);
  });

  it('takes live snapshots with RAM and reverts them by powering off, restoring and starting', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-'));
    const runner = new ScriptedRunner([
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('running') },
      { argv: V('snapshot', 'lab1-box', 'take', 'before-exploit', '--description', 'ctp:memory=1', '--live') },
      { argv: V('snapshot', 'lab1-box', 'list', '--machinereadable'), stdout: fixture('snapshot-list.txt') },
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: vmInfo('running') },
      { argv: V('controlvm', 'lab1-box', 'poweroff') },
      { argv: V('snapshot', 'lab1-box', 'restore', 'before-exploit') },
      { argv: V('startvm', 'lab1-box', '--type', 'headless') },
      { argv: V('snapshot', 'lab1-box', 'list', '--machinereadable'), stdout: fixture('no-snapshots.txt'), code: 1 },
    ]);
    const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
    expect(await driver.takeSnapshot('lab1-box', 'before-exploit')).toMatchObject({ name: 'before-exploit', withMemory: true });
    await driver.revertSnapshot('lab1-box', 'before-exploit');
    expect(await driver.listSnapshots('lab1-box')).toEqual([]);
    expect(runner.remaining()).toEqual([]);
  });

  it('treats an unknown machine as gone: destroy succeeds, getVm is null, start says not_found (6.1 and 7.0 errors)', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-'));
    (await import('node:fs')).writeFileSync(
      path.join(stateDir, 'virtualbox.json'),
      JSON.stringify({ vms: { 'lab1-gone': { vrdePort: 5900 } }, networks: {} }),
    );
    const runner = new ScriptedRunner([
      { argv: V('showvminfo', 'lab1-gone', '--machinereadable'), ...notFound('6.1') },
      { argv: V('showvminfo', 'lab1-gone', '--machinereadable'), ...notFound('7.0') },
      { argv: V('showvminfo', 'lab1-never', '--machinereadable'), ...notFound('7.0') },
    ]);
    const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
    expect(await driver.getVm('lab1-gone')).toBeNull();
    await driver.destroyVm('lab1-gone');
    expect(await driver.getVm('lab1-gone')).toBeNull();
    const error = await driver.startVm('lab1-never').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HypervisorError);
    expect(error).toMatchObject({ code: 'not_found', message: "Could not find a registered machine named 'lab1-gone'" });
    expect(runner.remaining()).toEqual([]);
  });

  it('lists only the VMs it made, and refuses images it cannot clone', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-'));
    (await import('node:fs')).writeFileSync(
      path.join(stateDir, 'virtualbox.json'),
      JSON.stringify({ vms: { 'lab1-attacker': { vrdePort: 5900 } }, networks: {} }),
    );
    const runner = new ScriptedRunner([
      { argv: V('list', 'vms'), stdout: fixture('list-vms.txt') },
      { argv: V('showvminfo', 'lab1-attacker', '--machinereadable'), stdout: fixture('showvminfo-6.1-poweroff.txt') },
      { argv: ['VBoxManage', '--version'], stdout: '7.1.4r165100\n' },
    ]);
    const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
    expect((await driver.listVms()).map((vm) => vm.name)).toEqual(['lab1-attacker']);
    const refused = await driver
      .createVm({ name: 'lab1-k', image: { kind: 'kernel', kernel: '/k', initrd: '/i', cmdline: '' }, cpus: 1, memoryMiB: 64, nics: [] })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'unsupported' });
    expect(runner.remaining()).toEqual([]);
  });
});
