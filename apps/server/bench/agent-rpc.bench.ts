import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { FakeDriver, type HypervisorDriver } from '@ctp/hypervisor';
import { buildAgentServer } from '../src/agent/agent.server.js';
import { RemoteDriver } from '../src/agent/remote.driver.js';
import { writeSection } from './report.js';

// What the internal channel between hosts costs: the same driver calls and console bytes on a
// driver directly (the baseline) and through an agent server and a RemoteDriver on loopback
// (HTTP + JSON + a fresh HMAC token per call; the console over a WebSocket). The fake driver
// behind both, so that only the channel is measured. Writes its section of docs/benchmarks.md.

const SECRET = 'bench-agent-secret-0123456789abcdef012345';
const CALLS = Number(process.env.CTP_BENCH_CALLS ?? 2000);
const CONSOLE_MIB = 32;

async function sequentialMs(driver: HypervisorDriver): Promise<number> {
  for (let i = 0; i < 100; i++) await driver.getVm('vm');
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) await driver.getVm('vm');
  return (performance.now() - started) / CALLS;
}

async function consoleMiBPerSecond(stream: Duplex, guest: ReturnType<FakeDriver['console']>): Promise<number> {
  const chunk = 'x'.repeat(64 * 1024);
  const total = CONSOLE_MIB * 2 ** 20;
  let received = 0;
  const done = new Promise<void>((resolve) =>
    stream.on('data', (data: Buffer) => {
      received += data.length;
      if (received >= total) resolve();
    }),
  );
  const started = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) guest.print(chunk);
  await done;
  stream.destroy();
  return CONSOLE_MIB / ((performance.now() - started) / 1000);
}

const driver = new FakeDriver();
await driver.createVm({ name: 'vm', image: { kind: 'kernel', kernel: '/k', initrd: '/i', cmdline: '' }, cpus: 1, memoryMiB: 64, nics: [] });
await driver.startVm('vm');
const agent = await buildAgentServer({ hostName: 'bench-host', clusterSecret: SECRET, driver });
await agent.listen({ port: 0, host: '127.0.0.1' });
const remote = new RemoteDriver({
  name: 'bench-host',
  address: `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}`,
  clusterSecret: SECRET,
});

const guest = driver.console('vm', 'serial');
const direct = { call: await sequentialMs(driver), console: await consoleMiBPerSecond(await driver.openConsole('vm', 'serial'), guest) };
const viaAgent = { call: await sequentialMs(remote), console: await consoleMiBPerSecond(await remote.openConsole('vm', 'serial'), guest) };
await agent.close();

const markdown = `## Agent channel (API → another host's agent, loopback)

\`npm run bench:agent-rpc -w apps/server\`: ${CALLS} sequential \`getVm\` calls and ${CONSOLE_MIB} MiB of console output, on the fake driver directly (baseline) and through an agent server and a RemoteDriver.

| | driver directly | through the agent | ratio |
| --- | --- | --- | --- |
| one \`getVm\` call, µs | ${(direct.call * 1000).toFixed(1)} | ${(viaAgent.call * 1000).toFixed(0)} | ×${(viaAgent.call / direct.call).toFixed(0)} |
| console output, MiB/s | ${direct.console.toFixed(0)} | ${viaAgent.console.toFixed(0)} | ×${(viaAgent.console / direct.console).toFixed(2)} |
`;
writeSection('agent-rpc', markdown);
process.stdout.write(markdown);
