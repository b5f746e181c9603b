import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SocketNetworkBackend } from '../src/qemu/network/socket.network.js';
import { QemuDriver } from '../src/qemu/qemu.driver.js';
import { demoImages } from '../src/test-support/demo-images.js';

// The private guest channel on one real demo guest: how long after `startVm` the agent answers,
// the latency of a command and of a small file write, and how long after a RAM snapshot revert
// the agent answers again. Run under the host lock: `flock /tmp/ctp-host.lock npm run bench -w packages/hypervisor`.

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-bench-qga-'));
  const images = demoImages();
  const driver = new QemuDriver({
    stateDir,
    network: new SocketNetworkBackend(path.join(stateDir, '.net')),
    probeKernel: images.target.kernel,
  });
  const vm = 'bench-target';
  try {
    await driver.createVm({ name: vm, image: images.target, cpus: 1, memoryMiB: 128, nics: [] });
    const host = await driver.probe();
    const boot = await timed(async () => {
      await driver.startVm(vm);
      await driver.waitForGuestAgent(vm, 180_000);
    });
    const exec: number[] = [];
    for (let i = 0; i < 20; i++) exec.push(await timed(() => driver.guestExec(vm, { argv: ['true'] })));
    const write: number[] = [];
    for (let i = 0; i < 10; i++)
      write.push(await timed(() => driver.guestWriteFile(vm, { path: '/etc/ctp/banner', content: 'x'.repeat(1024), mode: 0o600 })));
    await driver.takeSnapshot(vm, 'bench');
    const revert = await timed(async () => {
      await driver.revertSnapshot(vm, 'bench');
      await driver.waitForGuestAgent(vm, 60_000);
    });
    console.log(`guest channel on QEMU ${host.version} (${host.accelerator}), demo target guest, 1 vCPU, 128 MiB`);
    console.log(`  startVm → agent answers:          ${Math.round(boot)} ms`);
    console.log(`  guestExec ['true'] (median of 20): ${Math.round(median(exec))} ms (max ${Math.round(Math.max(...exec))})`);
    console.log(`  guestWriteFile 1 KiB (median of 10): ${Math.round(median(write))} ms`);
    console.log(`  revert RAM snapshot → agent answers: ${Math.round(revert)} ms`);
  } finally {
    await driver.destroyVm(vm).catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
