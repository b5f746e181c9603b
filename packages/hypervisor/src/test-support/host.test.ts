import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../command-runner.js';
import { BridgeNetworkBackend, nftTableOf, ownerOf } from '../qemu/network/bridge.network.js';
import { bridgeName, tapName } from '../qemu/network/names.js';
import { ownedLinks, qemuLeftovers, staleNftRules } from './host.js';

// The leftover checks of the real-QEMU tests must see this installation's devices and only those:
// another platform (or another test) on the same host has its own `ctp*` devices.
describe('leftover checks on a shared host', () => {
  const mine = mkdtempSync(path.join(tmpdir(), 'ctp-host-mine-'));
  const theirs = mkdtempSync(path.join(tmpdir(), 'ctp-host-theirs-'));
  const own = new BridgeNetworkBackend(runCommand, ownerOf(mine));
  const foreign = new BridgeNetworkBackend(runCommand, ownerOf(theirs));
  const id = Math.random().toString(36).slice(2, 8);

  afterAll(async () => {
    await own.destroy(`h${id}-lan`).catch(() => {});
    await foreign.destroy(`h${id}-lan`).catch(() => {});
    rmSync(mine, { recursive: true, force: true });
    rmSync(theirs, { recursive: true, force: true });
  });

  it("ignores another installation's bridges and taps, and reports its own", async () => {
    await foreign.create({ name: `h${id}-lan` });
    await foreign.attachNic(`h${id}-lan`, 'vm', 0, '52:54:00:00:00:01');
    expect(qemuLeftovers(mine)).toEqual([]);

    await own.create({ name: `h${id}-lan` });
    await own.attachNic(`h${id}-lan`, 'vm', 0, '52:54:00:00:00:02');
    const ownBridge = bridgeName(ownerOf(mine), `h${id}-lan`);
    const ownTap = tapName(ownerOf(mine), 'vm', 0);
    expect(ownedLinks(ownerOf(mine)).sort()).toEqual([ownBridge, ownTap].sort());
    expect(qemuLeftovers(mine).sort()).toEqual([`link ${ownBridge}`, `link ${ownTap}`].sort());

    // A tap left behind after its bridge is gone is still recognised by its alias.
    await runCommand(['ip', 'link', 'set', ownTap, 'nomaster']);
    expect(ownedLinks(ownerOf(mine))).toContain(ownTap);

    await own.destroy(`h${id}-lan`);
    await own.detachNic(`h${id}-lan`, 'vm', 0);
    expect(qemuLeftovers(mine)).toEqual([]);
    expect(ownedLinks(ownerOf(theirs)).length).toBe(2);
  });

  it('reports the isolation table of a bridge which is gone', async () => {
    await own.create({ name: `h${id}-lan` });
    const bridge = own.bridgeOf(`h${id}-lan`);
    expect(staleNftRules()).toEqual([]);
    // Deleted behind the backend's back: its table is still there.
    await runCommand(['ip', 'link', 'del', bridge]);
    expect(staleNftRules()).toContain(`nft table ${nftTableOf(bridge)}`);
    // Destroying the network removes its table, bridge or no bridge.
    await own.destroy(`h${id}-lan`);
    expect(staleNftRules()).toEqual([]);
  });
});
