import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../command-runner.js';
import { demoImages } from '../../test-support/demo-images.js';
import { SerialReader } from '../../test-support/serial.js';
import { QemuDriver } from '../qemu.driver.js';
import { BridgeNetworkBackend, ownerOf } from './bridge.network.js';
import { DHCP_RUN_DIR, dnsmasqArgs } from './dhcp.js';

const images = demoImages();

describe('dnsmasq per lab network (real bridge, real busybox guests)', () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'ctp-dhcp-'));
  const network = new BridgeNetworkBackend(runCommand, ownerOf(stateDir));
  const driver = new QemuDriver({ stateDir, network, probeKernel: images.attacker.kernel });
  const id = Math.random().toString(36).slice(2, 7);
  const lan = `d${id}-lan`;
  const known = { name: `d${id}-known`, mac: '52:54:00:d0:00:01' };
  const stranger = { name: `d${id}-stranger`, mac: '52:54:00:d0:00:02' };
  const consoles: SerialReader[] = [];

  const boot = async (vm: { name: string; mac: string }) => {
    // No ctp.ip: the guest's NIC comes up without an address.
    await driver.createVm({
      name: vm.name,
      image: images.attacker,
      cpus: 1,
      memoryMiB: 128,
      nics: [{ network: lan, mac: vm.mac }],
      kernelArgs: `ctp.hostname=${vm.name}`,
    });
    await driver.startVm(vm.name);
    const serial = new SerialReader(await driver.openConsole(vm.name, 'serial'));
    consoles.push(serial);
    await serial.waitFor(`CTP-READY attacker ${vm.name}`, 90_000);
    return serial;
  };

  beforeAll(async () => {
    await driver.createNetwork({
      name: lan,
      group: `d${id}`,
      dhcp: { cidr: '10.0.9.0/24', serverAddress: '10.0.9.254', leases: [{ mac: known.mac, address: '10.0.9.30', hostname: 'known' }] },
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of consoles) c.close();
    for (const vm of [known, stranger]) await driver.destroyVm(vm.name).catch(() => {});
    await driver.destroyNetwork(lan).catch(() => {});
    driver.close();
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('serves DHCP only, on the lab bridge only, with no router or DNS unless the template names them', () => {
    expect(dnsmasqArgs('ctpbX', { cidr: '10.0.9.0/24', serverAddress: '10.0.9.254', leases: [] }, '/run/ctp-dhcp/ctpbX')).toEqual([
      'dnsmasq',
      '--conf-file=/dev/null',
      '--port=0',
      '--interface=ctpbX',
      '--bind-interfaces',
      '--except-interface=lo',
      '--dhcp-range=10.0.9.0,static,255.255.255.0,1h',
      '--dhcp-hostsfile=/run/ctp-dhcp/ctpbX/hosts',
      '--leasefile-ro',
      '--dhcp-authoritative',
      '--dhcp-option=option:router',
      '--dhcp-option=option:dns-server',
      '--pid-file=/run/ctp-dhcp/ctpbX/dnsmasq.pid',
    ]);
  });

  it('gives a DHCP-only guest its static lease by MAC, nothing to an unknown MAC, and nothing else of the host', async () => {
    const [guest, other] = await Promise.all([boot(known), boot(stranger)]);
    const lease = await guest.run('udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true 2>&1', 60_000);
    expect(lease).toMatch(/lease of 10\.0\.9\.30 obtained from 10\.0\.9\.254/);
    const refused = await other.run('udhcpc -i eth0 -n -q -t 3 -T 2 -s /bin/true 2>&1; echo rc=$?', 60_000);
    expect(refused).not.toContain('obtained');
    expect(refused).toContain('rc=1');
    // The server's address answers DHCP only: no ping, no TCP (the host's SSH) from the lab.
    await guest.run('ip addr add 10.0.9.30/24 dev eth0');
    expect(await guest.run('ping -c 2 -w 3 10.0.9.254 >/dev/null 2>&1; echo rc=$?')).toContain('rc=1');
    expect(await guest.run('echo | nc -w 3 10.0.9.254 22 >/dev/null 2>&1; echo rc=$?')).not.toContain('rc=0');
  }, 180_000);

  it('stops dnsmasq and removes its files with the network', async () => {
    const bridge = network.bridgeOf(lan);
    const pid = Number(execFileSync('cat', [path.join(DHCP_RUN_DIR, bridge, 'dnsmasq.pid')], { encoding: 'utf8' }).trim());
    await driver.destroyNetwork(lan);
    // Gone, or a zombie waiting for its reaper (dnsmasq daemonized away from us).
    const alive = () => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    await expect.poll(alive, { timeout: 5_000 }).toBe(false);
    expect(existsSync(path.join(DHCP_RUN_DIR, bridge))).toBe(false);
  });
});
