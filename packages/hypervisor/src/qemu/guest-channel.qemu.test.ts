import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HypervisorError } from '../errors.js';
import { demoImages } from '../test-support/demo-images.js';
import { SocketNetworkBackend } from './network/socket.network.js';
import { QemuDriver } from './qemu.driver.js';
import { QmpClient } from './qmp.client.js';
import { VmStateStore } from './vm-state.store.js';

/**
 * The private guest channel on a real guest: Debian's qemu-ga in the demo `target` image, reached
 * over the VM's virtio-serial port. One boot serves every assertion (TCG boots are slow).
 */
describe('QEMU guest channel with a real guest agent', { timeout: 180_000 }, () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-qga-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new SocketNetworkBackend(path.join(stateDir, '.net')),
    probeKernel: images.target.kernel,
  });
  const id = Math.random().toString(36).slice(2, 8);
  const vm = `g${id}-target`;
  const paths = new VmStateStore(stateDir).paths(vm);
  const restored = `g${id}-restored`;
  const restoredPaths = new VmStateStore(stateDir).paths(restored);
  const state = `g${id}-state`;
  const flag = `CTP{${id}${'0'.repeat(26)}}`;
  const banner = `SecretService 1.0 ready. Key: banner-${id}-secret`;
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (e instanceof HypervisorError ? e.code : String(e)),
    );

  beforeAll(async () => {
    await driver.createVm({ name: vm, image: images.target, cpus: 1, memoryMiB: 128, nics: [], kernelArgs: 'ctp.hostname=target' });
    await driver.startVm(vm);
  }, 60_000);
  afterAll(async () => {
    for (const name of [vm, restored]) await driver.destroyVm(name).catch(() => {});
    await driver.deleteSavedState(state).catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('answers once the guest has booted', async () => {
    expect((await driver.probe()).capabilities.guestAgent).toBe(true);
    await driver.waitForGuestAgent(vm, 120_000);
  });

  it('writes per-lab content with mode and owner, which the target then serves on HTTP and port 4444', async () => {
    await driver.guestWriteFile(vm, { path: '/var/www/flag.txt', content: `${flag}\n`, mode: 0o640, owner: 'root:www-data' });
    await driver.guestWriteFile(vm, { path: '/etc/ctp/banner', content: `${banner}\n`, mode: 0o600 });
    await driver.guestWriteFile(vm, { path: '/root/deep/new/dir/blob.bin', content: Buffer.alloc(200_000, 0xab) });
    expect(await driver.guestExec(vm, { argv: ['cat', '/var/www/flag.txt'] })).toEqual({ exitCode: 0, stdout: `${flag}\n`, stderr: '' });
    expect((await driver.guestExec(vm, { argv: ['stat', '-c', '%a %U:%G %s', '/var/www/flag.txt'] })).stdout).toBe(
      `640 root:www-data ${flag.length + 1}\n`,
    );
    expect((await driver.guestExec(vm, { argv: ['stat', '-c', '%a %U', '/etc/ctp/banner'] })).stdout).toBe('600 root\n');
    expect(
      (await driver.guestExec(vm, { argv: ['sh', '-c', 'wc -c < "$1"; od -An -tx1 -N2 "$1"', 'sh', '/root/deep/new/dir/blob.bin'] }))
        .stdout,
    ).toMatch(/^200000\n ab ab\n$/);
    // No temporary file is left beside the target (the guest's own identity file is there from boot).
    expect((await driver.guestExec(vm, { argv: ['ls', '-A', '/etc/ctp'] })).stdout).toBe('banner\nidentity\n');
    expect((await driver.guestExec(vm, { argv: ['wget', '-qO-', 'http://127.0.0.1/flag.txt'] })).stdout).toBe(`${flag}\n`);
    expect((await driver.guestExec(vm, { argv: ['nc', '127.0.0.1', '4444'], timeoutMs: 10_000 })).stdout).toBe(`${banner}\n`);
  });

  it('returns exit codes, stderr and stdin, and kills a command at its timeout', async () => {
    expect(await driver.guestExec(vm, { argv: ['sh', '-c', 'echo out; echo "err $0" >&2; exit 7', 'x y'] })).toEqual({
      exitCode: 7,
      stdout: 'out\n',
      stderr: 'err x y\n',
    });
    expect(await driver.guestExec(vm, { argv: ['tr', 'a-z', 'A-Z'], input: 'piped in\n' })).toMatchObject({
      exitCode: 0,
      stdout: 'PIPED IN\n',
    });
    expect(await driver.guestExec(vm, { argv: ['/no/such/program'] })).toMatchObject({
      exitCode: 127,
      stderr: expect.stringContaining('/no/such/program'),
    });
    const slow = await driver.guestExec(vm, { argv: ['sh', '-c', 'echo started; sleep 60'], timeoutMs: 1500 });
    expect(slow).toMatchObject({ exitCode: 124, timedOut: true });
    // The program and what it started are gone.
    expect((await driver.guestExec(vm, { argv: ['sh', '-c', 'ps -o args | grep "[s]leep 60" || echo none'] })).stdout).toBe('none\n');
  });

  it('serialises concurrent callers on the one agent socket', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => driver.guestExec(vm, { argv: ['sh', '-c', `echo call-${i}`] })));
    expect(results.map((r) => r.stdout)).toEqual([0, 1, 2, 3, 4].map((i) => `call-${i}\n`));
  });

  it('keeps its agent port connected between operations; a driver started anew connects again once it probes', async () => {
    // qemu-ga polls its port ten times a second while nobody is connected: QEMU names such a socket "disconnected:".
    const connected = async () => {
      const qmp = await QmpClient.connect(paths.qmpSocket);
      try {
        const chardevs = await qmp.execute<{ label: string; filename: string }[]>('query-chardev');
        return !chardevs.find((c) => c.label === 'qga0')!.filename.startsWith('disconnected:');
      } finally {
        qmp.close();
      }
    };
    const until = async (want: boolean) => {
      for (let i = 0; i < 50 && (await connected()) !== want; i++) await new Promise((r) => setTimeout(r, 100));
      return connected();
    };
    await driver.guestExec(vm, { argv: ['true'] });
    expect(await connected()).toBe(true);
    driver.close();
    expect(await until(false)).toBe(false);
    const again = new QemuDriver({
      stateDir,
      network: new SocketNetworkBackend(path.join(stateDir, '.net')),
      probeKernel: images.target.kernel,
    });
    try {
      await again.probe();
      expect(await until(true)).toBe(true);
      // The connection it made is synced by its first operation.
      expect(await again.guestExec(vm, { argv: ['echo', 'kept'] })).toEqual({ exitCode: 0, stdout: 'kept\n', stderr: '' });
    } finally {
      again.close();
    }
    await driver.waitForGuestAgent(vm, 10_000);
  });

  it('answers again after a RAM snapshot revert, without what was written after the snapshot', async () => {
    await driver.takeSnapshot(vm, 'delivered');
    await driver.guestWriteFile(vm, { path: '/root/after.txt', content: 'after' });
    expect((await driver.guestExec(vm, { argv: ['test', '-f', '/root/after.txt'] })).exitCode).toBe(0);
    await driver.revertSnapshot(vm, 'delivered');
    await driver.waitForGuestAgent(vm, 60_000);
    expect((await driver.guestExec(vm, { argv: ['test', '-f', '/root/after.txt'] })).exitCode).toBe(1);
    expect((await driver.guestExec(vm, { argv: ['cat', '/var/www/flag.txt'] })).stdout).toBe(`${flag}\n`);
  });

  it('never shows what it delivered on the serial console', async () => {
    const console = readFileSync(paths.serialLog, 'utf8');
    expect(console).toContain('CTP-READY target target');
    for (const secret of [flag, banner, id]) expect(console).not.toContain(secret);
  });

  it('answers in a VM started from a saved state of this one (saveState, VmSpec.savedState)', async () => {
    await driver.saveState(vm, state);
    await driver.createVm({ name: restored, image: images.target, cpus: 1, memoryMiB: 128, nics: [], savedState: state });
    await driver.startVm(restored);
    await driver.waitForGuestAgent(restored, 60_000);
    expect((await driver.guestExec(restored, { argv: ['cat', '/etc/ctp/banner'] })).stdout).toBe(`${banner}\n`);
    await driver.guestWriteFile(restored, { path: '/etc/ctp/banner', content: 'restored lab banner\n' });
    expect((await driver.guestExec(restored, { argv: ['nc', '127.0.0.1', '4444'], timeoutMs: 10_000 })).stdout).toBe(
      'restored lab banner\n',
    );
    for (const secret of [flag, banner, 'restored lab banner']) expect(readFileSync(restoredPaths.serialLog, 'utf8')).not.toContain(secret);
  });

  it('fills a prepared file in place, keeping its mode, owner and inode; a missing or non-empty one is written the ordinary way', async () => {
    const file = '/root/prepared/flag.txt';
    const stat = async () => (await driver.guestExec(restored, { argv: ['stat', '-c', '%a %U:%G %s %i', file] })).stdout.trim().split(' ');
    const cat = async () => (await driver.guestExec(restored, { argv: ['cat', file] })).stdout;
    // Prepared as a template's saved state prepares a lab's files: empty, with the file's mode and owner.
    await driver.guestWriteFile(restored, { path: file, content: '', mode: 0o640, owner: 'root:www-data' });
    const [, , , inode] = await stat();
    await driver.guestWriteFile(restored, { path: file, content: `${flag}\n`, mode: 0o640, owner: 'root:www-data', prepared: true });
    expect(await cat()).toBe(`${flag}\n`);
    // The same file (in place, not renamed over), its mode and owner as prepared.
    expect(await stat()).toEqual(['640', 'root:www-data', String(flag.length + 1), inode]);
    // Not empty any more: replaced whole (not overwritten from its start), with the mode asked for.
    await driver.guestWriteFile(restored, { path: file, content: 'short\n', mode: 0o600, prepared: true });
    expect(await cat()).toBe('short\n');
    expect((await stat()).slice(0, 3)).toEqual(['600', 'root:root', '6']);
    // Missing: created the ordinary way, with its mode (the agent alone would give it its own).
    await driver.guestWriteFile(restored, { path: '/root/prepared/new.txt', content: 'new\n', mode: 0o600, prepared: true });
    expect((await driver.guestExec(restored, { argv: ['stat', '-c', '%a', '/root/prepared/new.txt'] })).stdout).toBe('600\n');
    expect((await driver.guestExec(restored, { argv: ['ls', '-A', '/root/prepared'] })).stdout).toBe('flag.txt\nnew.txt\n');
  });

  it('refuses a VM created without the channel, and one that is not running', async () => {
    const off = `${vm}-off`;
    await driver.createVm({ name: off, image: images.target, cpus: 1, memoryMiB: 64, nics: [], guestAgent: false });
    try {
      expect(await code(driver.guestExec(off, { argv: ['true'] }))).toBe('unsupported');
      expect(await code(driver.waitForGuestAgent(off, 100))).toBe('unsupported');
    } finally {
      await driver.destroyVm(off);
    }
    await driver.pauseVm(restored);
    expect(await code(driver.guestExec(restored, { argv: ['true'] }))).toBe('invalid_state');
    await driver.resumeVm(restored);
    await driver.stopVm(restored, { force: true });
    expect(await code(driver.guestWriteFile(restored, { path: '/x', content: 'x' }))).toBe('invalid_state');
  });
});
