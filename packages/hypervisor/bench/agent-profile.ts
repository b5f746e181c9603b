// Profiling aid (not part of the suite): CPU cost of guest agent operations on a freshly restored VM.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand } from '../src/command-runner.js';
import { demoImages } from '../src/test-support/demo-images.js';
import { SerialReader } from '../src/test-support/serial.js';
import { BridgeNetworkBackend, ownerOf } from '../src/qemu/network/bridge.network.js';
import { QemuDriver } from '../src/qemu/qemu.driver.js';
import { GuestAgentClient } from '../src/qemu/guest-agent.client.js';

const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-prof-'));
const images = demoImages();
const driver = new QemuDriver({ stateDir, network: new BridgeNetworkBackend(runCommand, ownerOf(stateDir)), probeKernel: images.target.kernel, tcgTranslationCacheMiB: 32 });
const id = Math.random().toString(36).slice(2, 6);
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const ref = `a${id}-ref`;
await driver.createNetwork({ name: `a${id}-rn` });
await driver.createVm({ name: ref, image: images.target, cpus: 1, memoryMiB: 128, nics: [{ network: `a${id}-rn` }], kernelArgs: 'ctp.hostname=target ctp.ip=10.0.0.20/24', saveable: true });
await driver.startVm(ref);
const s = new SerialReader(await driver.openConsole(ref, 'serial'));
await s.waitFor('CTP-READY target target', 90_000);
s.close();
await driver.waitForGuestAgent(ref, 30_000);
for (const f of ['/tmp/ff', '/tmp/f2', '/tmp/f3']) await driver.guestWriteFile(ref, { path: f, content: '', mode: 0o600 });
await driver.saveState(ref, `a${id}-state`);
const vm = `a${id}-v`;
await driver.createNetwork({ name: `a${id}-n` });
await driver.createVm({ name: vm, image: images.target, cpus: 1, memoryMiB: 128, nics: [{ network: `a${id}-n` }], savedState: `a${id}-state` });
await driver.startVm(vm);
const pid = Number(readFileSync(path.join(stateDir, vm, 'qemu.pid'), 'utf8'));
const sock = path.join(stateDir, vm, 'qga.sock');
let last = 0; let t = Date.now();
const mark = (what: string) => { const c = cpu(pid); console.log(`${what.padEnd(40)} cpu ${String(c - last).padStart(4)} ms  wall ${Date.now() - t} ms`); last = c; t = Date.now(); };
mark('start');
const steps = (process.env.STEPS ?? 'conn,ping,conn,exec:,exec:,file,write,write,execid,execid').split(',');
let agent = await GuestAgentClient.connect(sock, 10_000); mark('connect+sync');
for (const step of steps) {
  if (step === 'conn') { agent.close(); agent = await GuestAgentClient.connect(sock, 10_000); }
  if (step === 'ping') await agent.ping();
  if (step === 'exec:') await agent.exec({ argv: ['sh', '-c', ':'] });
  if (step === 'true') await agent.exec({ argv: ['/bin/true'] });
  if (step === 'file') { const h = await agent.execute<number>('guest-file-open', { path: '/tmp/ff', mode: 'w' }); await agent.execute('guest-file-write', { handle: h, 'buf-b64': Buffer.from('hello\n').toString('base64') }); await agent.execute('guest-file-close', { handle: h }); }
  if (step === 'rplus') { const h = await agent.execute<number>('guest-file-open', { path: '/tmp/ff', mode: 'r+' }); const pos = await agent.execute<{ position: number }>('guest-file-seek', { handle: h, offset: 0, whence: 'end' }); await agent.execute('guest-file-seek', { handle: h, offset: 0, whence: 'set' }); await agent.execute('guest-file-write', { handle: h, 'buf-b64': Buffer.from('flag{x}\n').toString('base64') }); await agent.execute('guest-file-close', { handle: h }); if (process.env.V) console.log(pos); }
  if (step === 'write') await agent.writeFile({ path: '/tmp/q/f', content: 'hello\n', mode: 0o644 });
  if (step === 'execid') await agent.exec({ argv: ['sh', '-c', '[ ! -x /sbin/ctp-identity ] || exec /sbin/ctp-identity /tmp/q/f'] });
  if (step === 'builtin') await agent.exec({ argv: ['sh', '-c', 'while IFS== read -r k v; do case $k in hostname) h=$v;; esac; done < /tmp/q/f; echo "$h" > /tmp/q/h'] });
  mark(step);
}
agent.close();
await driver.destroyVm(vm); await driver.destroyVm(ref);
await driver.destroyNetwork(`a${id}-n`); await driver.destroyNetwork(`a${id}-rn`);
driver.close();
rmSync(stateDir, { recursive: true, force: true });
