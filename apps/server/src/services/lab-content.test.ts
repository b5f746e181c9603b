import type { LabTemplateConfig } from '@ctp/contracts';
import { FakeDriver, type GuestCommand, type GuestFile } from '@ctp/hypervisor';
import { beforeEach, describe, expect, it } from 'vitest';
import { IDENTITY_FILE, LabContentDelivery, identityFile } from './lab-content.js';

const KERNEL_ARGS = 'console=ttyS0 ctp.hostname=target ctp.lab=lab1 ctp.ip=10.0.0.20/24';
const CONFIG = {
  networks: [],
  vms: [{ name: 'target' }, { name: 'attacker' }],
  inject: [
    { vm: 'target', path: '/var/www/flag.txt', content: 'FLAG{{{flag}}}\n', mode: '0640', owner: 'root:www-data' },
    { vm: 'target', path: '/etc/ctp/banner', content: 'hello\n' },
    { vm: 'attacker', path: '/root/notes.txt', content: 'notes\n' },
  ],
} as unknown as LabTemplateConfig;

// Content delivery on the fake driver: which files, with which mode and owner, and whether the
// driver may fill them in place (prepared). The real guest's side is in guest-channel.qemu.test.ts.
describe('LabContentDelivery', () => {
  let driver: FakeDriver;
  let delivery: LabContentDelivery;
  let commands: GuestCommand[];
  let writes: GuestFile[];

  beforeEach(async () => {
    driver = new FakeDriver();
    delivery = new LabContentDelivery(driver, () => ({ flag: 's3cret' }));
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
    driver.onGuestExec('vm1', (command) => {
      commands.push(command);
      return { exitCode: 0, stdout: '', stderr: '' };
    });
    const write = driver.guestWriteFile.bind(driver);
    driver.guestWriteFile = async (vm, file) => {
      writes.push(file);
      return write(vm, file);
    };
  });

  it("gives a resumed guest its lab's identity in its prepared identity file, running no guest command", async () => {
    await expect(delivery.deliverIdentity('vm1', KERNEL_ARGS)).resolves.toBe(true);
    expect(commands).toEqual([]);
    expect(writes).toEqual([{ path: IDENTITY_FILE, content: 'hostname=target\nlab=lab1\nip=10.0.0.20/24\n', mode: 0o644, prepared: true }]);
    expect(identityFile(KERNEL_ARGS)).toBe('hostname=target\nlab=lab1\nip=10.0.0.20/24\n');
  });

  it('prepares a reference VM: its identity file and its own inject files, empty, with their modes and owners', async () => {
    await delivery.prepareFiles('vm1', CONFIG, 'target');
    expect(writes).toEqual([
      { path: IDENTITY_FILE, content: '', mode: 0o644 },
      { path: '/var/www/flag.txt', content: '', mode: 0o640, owner: 'root:www-data' },
      { path: '/etc/ctp/banner', content: '' },
    ]);
    expect(commands).toEqual([]);
  });

  it('fills inject files in place only when told they are prepared, with the same mode and owner either way', async () => {
    await expect(delivery.deliverLabContent({ id: 'lab1', config: CONFIG }, { name: 'target', driverName: 'vm1' })).resolves.toBe(2);
    await expect(delivery.deliverLabContent({ id: 'lab1', config: CONFIG }, { name: 'target', driverName: 'vm1' }, true)).resolves.toBe(2);
    const flag = { path: '/var/www/flag.txt', content: 'FLAG{s3cret}\n', mode: 0o640, owner: 'root:www-data' };
    expect(writes).toEqual([
      flag,
      { path: '/etc/ctp/banner', content: 'hello\n' },
      { ...flag, prepared: true },
      { path: '/etc/ctp/banner', content: 'hello\n', prepared: true },
    ]);
  });

  it('does nothing without a guest channel', async () => {
    const probe = driver.probe.bind(driver);
    driver.probe = async () => {
      const host = await probe();
      return { ...host, capabilities: { ...host.capabilities, guestAgent: false } };
    };
    await expect(delivery.deliverIdentity('vm1', KERNEL_ARGS)).resolves.toBe(false);
    await delivery.prepareFiles('vm1', CONFIG, 'target');
    await expect(delivery.deliverLabContent({ id: 'lab1', config: CONFIG }, { name: 'target', driverName: 'vm1' })).resolves.toBeNull();
    expect(writes).toEqual([]);
  });
});
