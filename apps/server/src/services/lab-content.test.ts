import { FakeDriver, type GuestCommand } from '@ctp/hypervisor';
import { beforeEach, describe, expect, it } from 'vitest';
import { IDENTITY_FILE, IDENTITY_PROGRAM, LabContentDelivery, identityFile } from './lab-content.js';

const KERNEL_ARGS = 'console=ttyS0 ctp.hostname=target ctp.lab=lab1 ctp.ip=10.0.0.20/24';

describe('LabContentDelivery.deliverIdentity (a guest resumed from a saved state learns its lab)', () => {
  let driver: FakeDriver;
  let delivery: LabContentDelivery;
  let commands: GuestCommand[];
  let writes: string[];

  beforeEach(async () => {
    driver = new FakeDriver();
    delivery = new LabContentDelivery(driver, () => ({}));
    await driver.createVm({
      name: 'vm1',
      image: { kind: 'kernel', kernel: '/k', initrd: '/i', cmdline: '' },
      cpus: 1,
      memoryMiB: 64,
      nics: [],
    });
    await driver.startVm('vm1');
    commands = [];
    writes = [];
    const write = driver.guestWriteFile.bind(driver);
    driver.guestWriteFile = async (vm, file) => {
      writes.push(file.path);
      return write(vm, file);
    };
  });

  it('is one guest command where the image has the identity program: the identity on its stdin', async () => {
    driver.onGuestExec('vm1', (command, files) => {
      commands.push(command);
      if (command.argv.join(' ') !== `${IDENTITY_PROGRAM} -`) return { exitCode: 127, stdout: '', stderr: 'not found\n' };
      files.set(IDENTITY_FILE, { content: Buffer.from(command.input ?? '') });
      return { exitCode: 0, stdout: '', stderr: '' };
    });
    await expect(delivery.deliverIdentity('vm1', KERNEL_ARGS)).resolves.toBe(true);
    expect(commands).toHaveLength(1);
    expect(commands[0]!.input).toBe('hostname=target\nlab=lab1\nip=10.0.0.20/24\n');
    expect(writes).toEqual([]);
    expect(driver.guestFiles('vm1').get(IDENTITY_FILE)?.content.toString()).toBe(identityFile(KERNEL_ARGS));
  });

  it('writes the identity file only where the image has no identity program', async () => {
    await expect(delivery.deliverIdentity('vm1', KERNEL_ARGS)).resolves.toBe(true);
    expect(writes).toEqual([IDENTITY_FILE]);
    expect(driver.guestFiles('vm1').get(IDENTITY_FILE)).toMatchObject({ mode: 0o644 });
    expect(driver.guestFiles('vm1').get(IDENTITY_FILE)?.content.toString()).toBe('hostname=target\nlab=lab1\nip=10.0.0.20/24\n');
  });

  it('fails when the identity program fails, and does nothing without a guest channel', async () => {
    driver.onGuestExec('vm1', () => ({ exitCode: 1, stdout: '', stderr: 'no /etc/ctp/identity\n' }));
    await expect(delivery.deliverIdentity('vm1', KERNEL_ARGS)).rejects.toThrow('exit code 1');
    expect(writes).toEqual([]);
    const probe = driver.probe.bind(driver);
    driver.probe = async () => {
      const host = await probe();
      return { ...host, capabilities: { ...host.capabilities, guestAgent: false } };
    };
    await expect(delivery.deliverIdentity('vm1', KERNEL_ARGS)).resolves.toBe(false);
  });
});
