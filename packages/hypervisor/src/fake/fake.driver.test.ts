import { describe, expect, it } from 'vitest';
import { runDriverContract } from '../contract/contract.suite.js';
import type { HypervisorError } from '../errors.js';
import { FakeDriver } from './fake.driver.js';

runDriverContract('fake', async () => {
  const driver = new FakeDriver();
  return {
    driver,
    image: { kind: 'disk', path: '/images/base.qcow2', format: 'qcow2' },
    leftovers: async () => [...driver.vms.keys(), ...driver.networks.keys()],
  };
});

async function runningVm(): Promise<FakeDriver> {
  const driver = new FakeDriver();
  await driver.createNetwork({ name: 'n' });
  await driver.createVm({
    name: 'vm',
    image: { kind: 'disk', path: '/b.qcow2', format: 'qcow2' },
    cpus: 1,
    memoryMiB: 64,
    nics: [{ network: 'n' }],
  });
  await driver.startVm('vm');
  return driver;
}

describe('fake guest channel', () => {
  it('stores written files with mode and owner, and answers cat, test -f and sh -c from them', async () => {
    const driver = await runningVm();
    await driver.waitForGuestAgent('vm', 1000);
    await driver.guestWriteFile('vm', { path: '/var/www/flag.txt', content: 'CTP{abc}\n', mode: 0o644, owner: 'root:root' });
    await driver.guestWriteFile('vm', { path: '/etc/bin', content: Buffer.from([1, 2]) });
    expect(driver.guestFiles('vm').get('/var/www/flag.txt')).toEqual({
      content: Buffer.from('CTP{abc}\n'),
      mode: 0o644,
      owner: 'root:root',
    });
    expect(driver.guestFiles('vm').get('/etc/bin')?.content).toEqual(Buffer.from([1, 2]));
    expect(await driver.guestExec('vm', { argv: ['cat', '/var/www/flag.txt'] })).toEqual({ exitCode: 0, stdout: 'CTP{abc}\n', stderr: '' });
    expect((await driver.guestExec('vm', { argv: ['cat', '/nope'] })).exitCode).toBe(1);
    expect((await driver.guestExec('vm', { argv: ['test', '-f', '/var/www/flag.txt'] })).exitCode).toBe(0);
    expect((await driver.guestExec('vm', { argv: ['test', '-f', '/nope'] })).exitCode).toBe(1);
    expect((await driver.guestExec('vm', { argv: ['sh', '-c', 'cat /var/www/flag.txt'] })).stdout).toBe('CTP{abc}\n');
    expect((await driver.guestExec('vm', { argv: ['sh', '-c', 'grep -q CTP /var/www/flag.txt && echo ok'] })).exitCode).toBe(0);
    expect((await driver.guestExec('vm', { argv: ['sh', '-c', 'grep -q CTP /root/banner.txt'] })).exitCode).toBe(1);
    expect((await driver.guestExec('vm', { argv: ['nmap', '10.0.0.20'] })).exitCode).toBe(127);
  });

  it('answers from a handler a test sets, and the default again once it is removed', async () => {
    const driver = await runningVm();
    const seen: string[][] = [];
    driver.onGuestExec('vm', (command) => {
      seen.push(command.argv);
      return { exitCode: 3, stdout: command.input ?? '', stderr: 'e' };
    });
    expect(await driver.guestExec('vm', { argv: ['x', 'y'], input: 'in' })).toEqual({ exitCode: 3, stdout: 'in', stderr: 'e' });
    expect(seen).toEqual([['x', 'y']]);
    driver.onGuestExec('vm');
    expect((await driver.guestExec('vm', { argv: ['x'] })).exitCode).toBe(127);
  });

  it('loses files written after a snapshot when reverting to it, and keeps those written before', async () => {
    const driver = await runningVm();
    await driver.guestWriteFile('vm', { path: '/before', content: 'b' });
    await driver.takeSnapshot('vm', 's');
    await driver.guestWriteFile('vm', { path: '/after', content: 'a' });
    await driver.guestWriteFile('vm', { path: '/before', content: 'changed' });
    await driver.revertSnapshot('vm', 's');
    expect([...driver.guestFiles('vm').keys()]).toEqual(['/before']);
    expect(driver.guestFiles('vm').get('/before')?.content.toString()).toBe('b');
  });

  it('refuses stopped or missing VMs, relative paths and empty argv with typed errors', async () => {
    const driver = await runningVm();
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: HypervisorError) => e.code,
      );
    expect(await code(driver.guestWriteFile('vm', { path: 'rel', content: '' }))).toBe('invalid');
    expect(await code(driver.guestExec('vm', { argv: [] }))).toBe('invalid');
    expect(await code(driver.guestExec('other', { argv: ['true'] }))).toBe('not_found');
    await driver.stopVm('vm');
    expect(await code(driver.waitForGuestAgent('vm'))).toBe('invalid_state');
    expect(await code(driver.guestExec('vm', { argv: ['true'] }))).toBe('invalid_state');
    driver.failOn = { operation: 'guestExec', message: 'agent gone' };
    await driver.startVm('vm');
    expect(await code(driver.guestExec('vm', { argv: ['true'] }))).toBe('command_failed');
  });
});
