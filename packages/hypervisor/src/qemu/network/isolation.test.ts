import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../command-runner.js';
import type { HypervisorDriver } from '../../driver.js';
import { QemuDriver } from '../qemu.driver.js';
import { demoImages } from '../../test-support/demo-images.js';
import { testAcceleratorCache } from '../../test-support/accelerator-cache.js';
import { nftTableExists, qemuLeftovers } from '../../test-support/host.js';
import { SerialReader } from '../../test-support/serial.js';
import { BridgeNetworkBackend, nftTableOf, ownerOf } from './bridge.network.js';
import type { LabNetworkBackend } from './lab-network.js';
import { SocketNetworkBackend } from './socket.network.js';

const images = demoImages();

/** Boots a guest on a network with an address and returns its serial console once it is ready. */
async function guest(driver: HypervisorDriver, name: string, network: string, ip: string, role: 'attacker' | 'target' = 'attacker') {
  await driver.createVm({
    name,
    image: images[role],
    cpus: 1,
    memoryMiB: 128,
    nics: [{ network }],
    kernelArgs: `ctp.hostname=${name} ctp.ip=${ip}/24`,
  });
  await driver.startVm(name);
  const serial = new SerialReader(await driver.openConsole(name, 'serial'));
  await serial.waitFor(`CTP-READY ${role} ${name}`, 90_000);
  return serial;
}

/** What a guest gets from port 80 at `ip` (nothing when unreachable); busybox nc, as wget -T crashes there. */
const httpGet = (serial: SerialReader, ip: string) => serial.run(`printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 80; echo tried`);

const pingOk = async (serial: SerialReader, ip: string) =>
  (await serial.run(`ping -c 2 -w 3 ${ip} >/dev/null 2>&1; echo rc=$?`)).includes('rc=0');

type SuiteContext = { driver: HypervisorDriver; network: LabNetworkBackend; a1: SerialReader; labA: string };

function isolationSuite(label: string, makeBackend: (stateDir: string) => LabNetworkBackend, extra?: (ctx: SuiteContext) => void) {
  describe(`lab network isolation (${label})`, () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), `ctp-iso-${label}-`));
    const network = makeBackend(path.join(stateDir, 'net'));
    const driver = new QemuDriver({ stateDir, network, probeKernel: images.attacker.kernel, acceleratorCacheFile: testAcceleratorCache() });
    const id = Math.random().toString(36).slice(2, 7);
    const labA = `i${id}-a-lan`;
    const labB = `i${id}-b-lan`;
    const ctx = { network } as SuiteContext & { a2: SerialReader; b1: SerialReader; b2: SerialReader };

    beforeAll(async () => {
      // At once, as when a class starts: networks are made in parallel.
      await Promise.all([driver.createNetwork({ name: labA, group: `i${id}-a` }), driver.createNetwork({ name: labB, group: `i${id}-b` })]);
      // Same subnet in both labs on purpose: only the segments keep them apart. Every address is
      // distinct, so each "cannot reach" below has a "can reach" on its own segment beside it.
      [ctx.a1, ctx.a2, ctx.b1, ctx.b2] = await Promise.all([
        guest(driver, `i${id}-a1`, labA, '10.0.0.10'),
        guest(driver, `i${id}-a2`, labA, '10.0.0.20', 'target'),
        guest(driver, `i${id}-b1`, labB, '10.0.0.30'),
        guest(driver, `i${id}-b2`, labB, '10.0.0.40', 'target'),
      ]);
      ctx.driver = driver;
      ctx.labA = labA;
    }, 180_000);
    afterAll(async () => {
      for (const s of [ctx.a1, ctx.a2, ctx.b1, ctx.b2]) s?.close();
      for (const vm of ['a1', 'a2', 'b1', 'b2']) await driver.destroyVm(`i${id}-${vm}`).catch(() => {});
      await driver.destroyNetwork(labA).catch(() => {});
      await driver.destroyNetwork(labB).catch(() => {});
      driver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }, 60_000);

    it('lets guests of one lab network reach each other', async () => {
      expect(await pingOk(ctx.a1, '10.0.0.20')).toBe(true);
      expect(await ctx.a1.run('wget -qO- http://10.0.0.20/')).toContain(`Welcome to i${id}-a2`);
    });

    it('keeps a guest of another lab away from them, while it reaches its own lab', async () => {
      // Positive control: lab B's NICs work (b1 reaches b2's web server)...
      expect(await httpGet(ctx.b1, '10.0.0.40')).toContain(`Welcome to i${id}-b2`);
      // ...and yet nothing crosses between the labs, in either direction.
      expect(await pingOk(ctx.b1, '10.0.0.20')).toBe(false);
      expect(await httpGet(ctx.b1, '10.0.0.20')).not.toContain('Welcome');
      expect(await pingOk(ctx.b1, '10.0.0.10')).toBe(false);
      expect(await pingOk(ctx.a1, '10.0.0.30')).toBe(false);
      expect(await httpGet(ctx.a1, '10.0.0.40')).not.toContain('Welcome');
      expect(await httpGet(ctx.a1, '10.0.0.20')).toContain(`Welcome to i${id}-a2`);
      expect(await pingOk(ctx.a1, '10.0.0.20')).toBe(true);
    });

    if (extra) extra(ctx);

    it('leaves no process, file or device behind once destroyed', async () => {
      for (const s of [ctx.a1, ctx.a2, ctx.b1, ctx.b2]) s.close();
      for (const vm of ['a1', 'a2', 'b1', 'b2']) await driver.destroyVm(`i${id}-${vm}`);
      await driver.destroyNetwork(labA);
      await driver.destroyNetwork(labB);
      driver.close();
      const left = qemuLeftovers(stateDir, ownerOf(path.join(stateDir, 'net'))).filter((l) => !l.startsWith('file net'));
      expect(left).toEqual([]);
    }, 60_000);
  });
}

isolationSuite(
  'bridge',
  (stateDir) => new BridgeNetworkBackend(runCommand, ownerOf(stateDir)),
  (ctx) => {
    it('gives the host no address on a lab segment: none on its bridge, none on the taps of its running guests', async () => {
      // An address coming and going with each guest would be a network change to every browser on
      // the host (Chromium then aborts all its requests in flight, even to 127.0.0.1).
      const bridge = (ctx.network as BridgeNetworkBackend).bridgeOf(ctx.labA);
      const taps = readdirSync(`/sys/class/net/${bridge}/brif`);
      expect(taps).toHaveLength(2);
      for (const device of [bridge, ...taps]) {
        // Running guests hold their taps open (carrier on): the moment the kernel would add an IPv6 link-local address.
        expect(readFileSync(`/sys/class/net/${device}/carrier`, 'utf8').trim()).toBe('1');
        const { stdout } = await runCommand(['ip', '-j', 'addr', 'show', 'dev', device]);
        expect({ device, addresses: (JSON.parse(stdout) as { addr_info: unknown[] }[])[0]!.addr_info }).toEqual({ device, addresses: [] });
      }
    });

    it("keeps guests from the host's services, even when the host has an address on their segment", async () => {
      // A listener on every host address, and (as if misconfigured) a host address on lab A's bridge.
      const server = net.createServer((socket) => socket.end('HOST-SECRET\n'));
      await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const bridge = (ctx.network as BridgeNetworkBackend).bridgeOf(ctx.labA);
      await runCommand(['ip', 'addr', 'add', '10.0.0.1/24', 'dev', bridge]);
      try {
        expect(nftTableExists(bridge)).toBe(true);
        expect(await ctx.a1.run(`nc -w 3 10.0.0.1 ${port} </dev/null; echo tried`)).not.toContain('HOST-SECRET');
        expect(await pingOk(ctx.a1, '10.0.0.1')).toBe(false);
        // Proof that the rules are what holds: without its bridge's table the guest gets through.
        await runCommand(['nft', 'delete', 'table', 'inet', nftTableOf(bridge)]);
        expect(await ctx.a1.run(`nc -w 3 10.0.0.1 ${port} </dev/null; echo tried`)).toContain('HOST-SECRET');
      } finally {
        await runCommand(['ip', 'addr', 'del', '10.0.0.1/24', 'dev', bridge]).catch(() => {});
        // Creating the network again (as a retried job does) brings its table back.
        await ctx.driver.createNetwork({ name: ctx.labA });
        server.close();
      }
      expect(nftTableExists(bridge)).toBe(true);
    });
  },
);

isolationSuite('socket', (stateDir) => new SocketNetworkBackend(stateDir));
