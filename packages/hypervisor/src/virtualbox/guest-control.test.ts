import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shortHash } from '../short-hash.js';
import { ScriptedRunner, type Expected } from '../test-support/scripted-runner.js';
import { VirtualBoxDriver } from './virtualbox.driver.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const V = (...args: string[]) => ['VBoxManage', '-q', ...args];
const running = (runLevel?: number) =>
  fixture('showvminfo-7.0-running.txt') + (runLevel === undefined ? '' : `GuestAdditionsRunLevel=${runLevel}\n`);

const made: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctp-vbox-guest-'));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A driver on a scripted VBoxManage with one running VM `lab1-box` whose guest account is `ctp`. */
function setup(script: Expected[]) {
  const stateDir = tempDir();
  writeFileSync(
    path.join(stateDir, 'virtualbox.json'),
    JSON.stringify({ vms: { 'lab1-box': { vrdePort: 5901, guestUser: 'ctp' } }, networks: {} }),
  );
  writeFileSync(path.join(stateDir, 'lab1-box.guest-password'), 'pw', { mode: 0o600 });
  const runner = new ScriptedRunner(script);
  let n = 0;
  const driver = new VirtualBoxDriver({ stateDir, runner: runner.run, guestPollMs: 1, guestTempName: () => `t${++n}` });
  const login = ['--username', 'ctp', '--passwordfile', path.join(stateDir, 'lab1-box.guest-password')];
  const run = (timeout: string, ...argv: string[]) =>
    V('guestcontrol', 'lab1-box', 'run', ...login, '--timeout', timeout, '--exe', argv[0]!, '--', ...argv);
  const copyto = (dir: string, name: string) =>
    V('guestcontrol', 'lab1-box', 'copyto', ...login, '--target-directory', dir, path.join(stateDir, 'guest-copy', name));
  const state = { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: running() };
  return { driver, runner, stateDir, run, copyto, state };
}

describe('VirtualBox guest channel: exact guestcontrol argv (same for 6.1 and 7.x)', () => {
  it('runs a command with the VM account and maps VBoxManage exit codes back to the guest program', async () => {
    const { driver, runner, run, state } = setup([]);
    runner.remaining().push(
      state,
      { argv: run('30000', 'cat', '/var/www/flag.txt'), stdout: 'CTP{x}\n' },
      state,
      // Guest exit code 7 comes back as 7 + 32.
      { argv: run('5000', '/bin/sh', '-c', 'exit 7'), code: 39, stderr: 'oops\n' },
      state,
      { argv: run('1000', 'sleep', '60'), code: 20 },
      state,
      { argv: run('30000', '/nope'), code: 1, stderr: 'VBoxManage: error: Error starting guest session (VERR_FILE_NOT_FOUND)\n' },
    );
    expect(await driver.guestExec('lab1-box', { argv: ['cat', '/var/www/flag.txt'] })).toEqual({
      exitCode: 0,
      stdout: 'CTP{x}\n',
      stderr: '',
    });
    expect(await driver.guestExec('lab1-box', { argv: ['/bin/sh', '-c', 'exit 7'], timeoutMs: 5000 })).toEqual({
      exitCode: 7,
      stdout: '',
      stderr: 'oops\n',
    });
    expect(await driver.guestExec('lab1-box', { argv: ['sleep', '60'], timeoutMs: 1000 })).toMatchObject({ exitCode: 124, timedOut: true });
    expect((await driver.guestExec('lab1-box', { argv: ['/nope'] })).exitCode).toBe(127);
    expect(runner.remaining()).toEqual([]);
  });

  it('feeds input through a file copied into the guest, since guestcontrol run has no stdin', async () => {
    const { driver, runner, run, copyto, state } = setup([]);
    const script = 'f=$1; shift; "$@" < "$f"; s=$?; rm -f -- "$f"; exit $s';
    runner
      .remaining()
      .push(
        state,
        { argv: copyto('/tmp', '.ctp-t1.in') },
        { argv: run('30000', '/bin/sh', '-c', script, 'sh', '/tmp/.ctp-t1.in', 'tr', 'a-z', 'A-Z'), stdout: 'HI\n' },
      );
    expect(await driver.guestExec('lab1-box', { argv: ['tr', 'a-z', 'A-Z'], input: 'hi\n' })).toMatchObject({
      exitCode: 0,
      stdout: 'HI\n',
    });
    expect(runner.remaining()).toEqual([]);
  });

  it('writes a file: private temporary file, copyto, then mode, owner and rename; the host copy is removed', async () => {
    const { driver, runner, run, copyto, state, stateDir } = setup([]);
    runner.remaining().push(
      state,
      { argv: run('15000', '/bin/sh', '-c', 'mkdir -p -- "$1" && umask 077 && : > "$2"', 'sh', '/var/www', '/var/www/.ctp-t1.tmp') },
      { argv: copyto('/var/www', '.ctp-t1.tmp') },
      {
        argv: run(
          '15000',
          '/bin/sh',
          '-c',
          'chmod 640 "$1" && chown -- "$3" "$1" && mv -f -- "$1" "$2"',
          'sh',
          '/var/www/.ctp-t1.tmp',
          '/var/www/flag.txt',
          'root:www-data',
        ),
      },
    );
    await driver.guestWriteFile('lab1-box', { path: '/var/www/flag.txt', content: 'CTP{x}\n', mode: 0o640, owner: 'root:www-data' });
    expect(runner.remaining()).toEqual([]);
    expect(existsSync(path.join(stateDir, 'guest-copy', '.ctp-t1.tmp'))).toBe(false);
  });

  it('waits for the Guest Additions run level, then checks that the account can run a command', async () => {
    const { driver, runner, run, state } = setup([]);
    const info = (level: number) => ({ argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: running(level) });
    runner
      .remaining()
      .push(
        state,
        info(0),
        info(2),
        { argv: run('10000', '/bin/true'), code: 1, stderr: 'VBoxManage: error: The guest execution service is not ready (yet)\n' },
        info(2),
        { argv: run('10000', '/bin/true') },
      );
    await driver.waitForGuestAgent('lab1-box', 10_000);
    expect(runner.remaining()).toEqual([]);
  });

  it('keeps the guest password in a 0600 file, never in argv or the state file; refuses VMs without credentials', async () => {
    const stateDir = tempDir();
    writeFileSync(path.join(stateDir, 'virtualbox.json'), JSON.stringify({ vms: {}, networks: {} }));
    const base = `ctpbase-${shortHash('/images/target.ova', 10)}`;
    const port = String(5900 + (parseInt(shortHash('lab1-box', 6), 16) % 1000));
    const runner = new ScriptedRunner([
      { argv: ['VBoxManage', '--version'], stdout: '7.0.14r161095\n' },
      { argv: V('showvminfo', base, '--machinereadable'), stdout: fixture('showvminfo-6.1-poweroff.txt') },
      { argv: V('clonevm', base, '--snapshot', 'ctp-base', '--options', 'link', '--name', 'lab1-box', '--groups', '/ctp', '--register') },
      {
        argv: V(
          'modifyvm',
          'lab1-box',
          '--cpus',
          '1',
          '--memory',
          '512',
          '--uart1',
          '0x3F8',
          '4',
          '--uart-mode1',
          'server',
          path.join(stateDir, 'lab1-box.serial'),
          '--vrde',
          'on',
          '--vrde-port',
          port,
          '--vrde-address',
          '127.0.0.1',
        ),
      },
      { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: fixture('showvminfo-6.1-poweroff.txt') },
    ]);
    const driver = new VirtualBoxDriver({ stateDir, runner: runner.run });
    const image = { kind: 'appliance' as const, path: '/images/target.ova' };
    await driver.createVm({
      name: 'lab1-box',
      image,
      cpus: 1,
      memoryMiB: 512,
      nics: [],
      guestCredentials: { username: 'ctp', password: 's3cret-pw' },
    });
    expect(runner.remaining()).toEqual([]);
    const passwordFile = path.join(stateDir, 'lab1-box.guest-password');
    expect(readFileSync(passwordFile, 'utf8')).toBe('s3cret-pw');
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(stateDir, 'virtualbox.json'), 'utf8')).not.toContain('s3cret-pw');
    expect(runner.calls.flat().join(' ')).not.toContain('s3cret-pw');
    runner
      .remaining()
      .push(
        { argv: V('showvminfo', 'lab1-box', '--machinereadable'), stdout: fixture('showvminfo-6.1-poweroff.txt') },
        { argv: V('unregistervm', 'lab1-box', '--delete') },
      );
    await driver.destroyVm('lab1-box');
    expect(existsSync(passwordFile)).toBe(false);

    writeFileSync(path.join(stateDir, 'virtualbox.json'), JSON.stringify({ vms: { 'lab1-bare': { vrdePort: 5902 } }, networks: {} }));
    await expect(driver.guestExec('lab1-bare', { argv: ['true'] })).rejects.toMatchObject({ code: 'unsupported' });
    await expect(driver.guestWriteFile('lab1-none', { path: '/x', content: '' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
