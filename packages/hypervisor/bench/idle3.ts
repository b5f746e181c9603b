// Profiling aid (not part of the suite): what an idle restored guest costs its host.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '../src/command-runner.js';
import { demoImages } from '../src/test-support/demo-images.js';
import { SerialReader } from '../src/test-support/serial.js';
import { BridgeNetworkBackend, ownerOf } from '../src/qemu/network/bridge.network.js';
import { QemuDriver } from '../src/qemu/qemu.driver.js';

const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-prof-'));
const images = demoImages();
const driver = new QemuDriver({ stateDir, network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)), probeKernel: images.target.kernel, tcgTranslationCacheMiB: 32 });
const id = Math.random().toString(36).slice(2, 6);
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ref = `i${id}-ref`;
await driver.createNetwork({ name: `i${id}-rn` });
await driver.createVm({ name: ref, image: images.target, cpus: 1, memoryMiB: 128, nics: [{ network: `i${id}-rn` }], kernelArgs: `ctp.hostname=target ctp.ip=10.0.0.20/24 ${process.env.KARGS ?? ''}`, saveable: true });
await driver.startVm(ref);
const s = new SerialReader(await driver.openConsole(ref, 'serial'));
await s.waitFor('CTP-READY target target', 90_000);
s.close();
const refPid = Number(readFileSync(path.join(stateDir, ref, 'qemu.pid'), 'utf8'));
await sleep(3000);
let c = cpu(refPid); await sleep(5000); console.log('booted ref idle ms/s', (cpu(refPid) - c) / 5);
const sh = async (vm: string, script: string) => (await driver.guestExec(vm, { argv: ['sh', '-c', script] })).stdout;
void (await sh(ref, 'cat /proc/cmdline; grep -E "LOC|timer|virtio|ttyS" /proc/interrupts; sleep 5; grep -E "LOC|timer|virtio|ttyS" /proc/interrupts; ps'));
c = cpu(refPid); await sleep(5000); console.log('booted ref idle ms/s (after agent use)', (cpu(refPid) - c) / 5);
await driver.saveState(ref, `i${id}-state`);
const vm = `i${id}-v`;
await driver.createNetwork({ name: `i${id}-n` });
await driver.createVm({ name: vm, image: images.target, cpus: 1, memoryMiB: 128, nics: [{ network: `i${id}-n` }], savedState: `i${id}-state` });
await driver.startVm(vm);
const pid = Number(readFileSync(path.join(stateDir, vm, 'qemu.pid'), 'utf8'));
await sleep(2000);
c = cpu(pid); await sleep(5000); console.log('restored idle ms/s', (cpu(pid) - c) / 5);
if (process.env.SER) { const r = new SerialReader(await driver.openConsole(vm, 'serial')); await sleep(1000); const c0 = cpu(pid); const out = await r.run('a=$(grep LOC /proc/interrupts); t=$(grep TIMER /proc/softirqs); sleep 10; grep LOC /proc/interrupts; echo $a; grep TIMER /proc/softirqs; echo $t', 60_000); console.log('cpu ms/s during', (cpu(pid) - c0) / 10.5, out.replace(/\s+/g, ' ')); r.close(); }
if (process.env.IRQ) console.log(await sh(vm, 'cat /proc/interrupts > /tmp/a; sleep 10; cat /proc/interrupts /tmp/a; cat /sys/devices/system/clocksource/clocksource0/current_clocksource; dmesg | grep -i -E "clocksource|tsc|watchdog" | tail -8'));
for (const kill of (process.env.KILLS ?? '').split(',').filter(Boolean)) {
  await sh(vm, `killall ${kill} 2>/dev/null; true`);
  await sleep(1000);
  c = cpu(pid); await sleep(5000); console.log(`restored idle ms/s after killing ${kill}`, (cpu(pid) - c) / 5);
}
await driver.destroyVm(vm); await driver.destroyVm(ref);
await driver.destroyNetwork(`i${id}-n`); await driver.destroyNetwork(`i${id}-rn`);
driver.close();
rmSync(stateDir, { recursive: true, force: true });
