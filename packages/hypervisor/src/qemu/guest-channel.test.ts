import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentCommand, type ScriptedGuestAgent, scriptedGuestAgent } from '../test-support/scripted-guest-agent.js';
import { QemuGuestChannel } from './guest-channel.js';

const peers: ScriptedGuestAgent[] = [];
const channels: QemuGuestChannel[] = [];
afterEach(async () => {
  for (const channel of channels.splice(0)) channel.close();
  for (const peer of peers.splice(0)) await peer.close();
});

/** A scripted agent that answers file calls and pings, and goes silent while `mute` says so. */
async function setup(mute: () => boolean = () => false) {
  const peer = await scriptedGuestAgent((command: AgentCommand) => {
    if (mute()) return undefined;
    if (command.execute === 'guest-file-open') return { return: 1 };
    if (command.execute === 'guest-file-seek') return { return: { position: 0, eof: true } };
    if (command.execute === 'guest-file-write')
      return { return: { count: Buffer.from(String(command.arguments!['buf-b64']), 'base64').length } };
    return { return: {} };
  });
  peers.push(peer);
  const channel = new QemuGuestChannel();
  channels.push(channel);
  const ready = async () => {};
  const write = (content: string) => channel.writeFile(peer.socketPath, { path: '/etc/ctp/identity', content, prepared: true }, ready);
  const names = () => peer.seen.map((c) => c.execute);
  return { peer, channel, write, names };
}

describe('QEMU guest channel (scripted agent)', () => {
  it('keeps one connection for a VM: it syncs once, and a kept connection is checked with a ping', async () => {
    const { peer, channel, write, names } = await setup();
    await channel.waitForAgent(peer.socketPath, 2000);
    await write('lab one');
    await Promise.all([write('a'), write('b')]);
    await channel.waitForAgent(peer.socketPath, 2000);
    expect(peer.connections()).toBe(1);
    expect(names().filter((n) => n === 'guest-sync-delimited')).toHaveLength(1);
    // The first wait is answered by the sync itself; the second, on the kept connection, by a ping.
    expect(names()[0]).toBe('guest-sync-delimited');
    expect(names()[1]).toBe('guest-file-open');
    expect(names().at(-1)).toBe('guest-ping');
    expect(names().filter((n) => n === 'guest-ping')).toHaveLength(1);
  });

  it('opens a new connection, synced again, after forget (a new QEMU, a reset, a revert) and after close', async () => {
    const { peer, channel, write, names } = await setup();
    await write('x');
    channel.forget(peer.socketPath);
    await write('y');
    expect(peer.connections()).toBe(2);
    channel.close();
    await write('z');
    expect(peer.connections()).toBe(3);
    expect(names().filter((n) => n === 'guest-sync-delimited')).toHaveLength(3);
  });

  it('keep connects without a word to the agent, once; the first operation on it syncs', async () => {
    const { peer, channel, write, names } = await setup();
    await channel.keep(peer.socketPath);
    await channel.keep(peer.socketPath);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect([peer.connections(), names()]).toEqual([1, []]);
    await write('x');
    await channel.keep(peer.socketPath);
    expect(peer.connections()).toBe(1);
    expect(names()[0]).toBe('guest-sync-delimited');
    // Made in turn with operations: QEMU accepts one client, so a second connection of ours would hang.
    channel.forget(peer.socketPath);
    await Promise.all([channel.keep(peer.socketPath), write('y'), channel.keep(peer.socketPath), write('z')]);
    expect(peer.connections()).toBe(2);
  });

  it('drops a connection whose command timed out, and one its QEMU closed', async () => {
    let muted = false;
    const { peer, channel, write } = await setup(() => muted);
    await write('x');
    muted = true;
    await expect(channel.waitForAgent(peer.socketPath, 300)).rejects.toMatchObject({ code: 'timeout' });
    muted = false;
    await write('y');
    expect(peer.connections()).toBe(2);

    // QEMU exits and a new one serves the same socket: the dead connection is not reused.
    const dir = mkdtempSync(path.join(tmpdir(), 'ctp-qga-'));
    const socketPath = path.join(dir, 'qga.sock');
    try {
      const first = await scriptedGuestAgent(() => ({ return: {} }), '', socketPath);
      await channel.waitForAgent(socketPath, 2000);
      await first.close();
      const second = await scriptedGuestAgent(() => ({ return: {} }), '', socketPath);
      await channel.waitForAgent(socketPath, 2000);
      await second.close();
      expect([first.connections(), second.connections()]).toEqual([1, 1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
