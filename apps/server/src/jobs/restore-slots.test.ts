import { describe, expect, it } from 'vitest';
import { RestoreSlots, restoreSlotsPerCore } from './restore-slots.js';

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('restore slots', () => {
  it("lets a host's limit of holders in at once, the rest in request order as slots are given back", async () => {
    const slots = new RestoreSlots((host) => (host === 'h1' ? 2 : 1));
    const order: string[] = [];
    const a = await slots.acquire('h1');
    const b = await slots.acquire('h1');
    const other = await slots.acquire('h2');
    expect([slots.inUse('h1'), slots.inUse('h2')]).toEqual([2, 1]);
    const c = slots.acquire('h1').then((release) => (order.push('c'), release));
    const d = slots.acquire('h1').then((release) => (order.push('d'), release));
    await tick();
    expect(order).toEqual([]);
    b();
    b(); // a second release of the same slot gives nothing back
    const releaseC = await c;
    await tick();
    expect(order).toEqual(['c']);
    a();
    (await d)();
    releaseC();
    other();
    expect([slots.inUse('h1'), slots.inUse('h2')]).toEqual([0, 0]);
    expect(order).toEqual(['c', 'd']);
  });

  it('serves background requests (pool refills) after every other waiting one', async () => {
    const slots = new RestoreSlots(() => 1);
    const order: string[] = [];
    const held = await slots.acquire('h1');
    const waiters = [
      slots.acquire('h1', true).then((release) => (order.push('pool 1'), release())),
      slots.acquire('h1', true).then((release) => (order.push('pool 2'), release())),
      slots.acquire('h1').then((release) => (order.push('student'), release())),
    ];
    await tick();
    held();
    await Promise.all(waiters);
    expect(order).toEqual(['student', 'pool 1', 'pool 2']);
    expect(slots.inUse('h1')).toBe(0);
  });

  it('limits nothing with 0, and counts labs without a host as one host', async () => {
    const unlimited = new RestoreSlots(() => 0);
    const held = await Promise.all(Array.from({ length: 50 }, () => unlimited.acquire('h1')));
    expect(unlimited.inUse('h1')).toBe(50);
    for (const release of held) release();
    expect(unlimited.inUse('h1')).toBe(0);
    const one = new RestoreSlots(() => 1);
    const first = await one.acquire(null);
    let second = false;
    const next = one.acquire(null).then((release) => ((second = true), release));
    await tick();
    expect(second).toBe(false);
    first();
    (await next)();
    expect(second).toBe(true);
    expect(one.inUse(null)).toBe(0);
  });

  it('gives a host per-core × its registered cores, asks once a minute, and 1 core when it is unknown', async () => {
    const asked: (string | null)[] = [];
    const limit = restoreSlotsPerCore(2, async (host) => (asked.push(host), host === 'big' ? 16 : undefined));
    expect(await limit('big')).toBe(32);
    expect(await limit('big')).toBe(32);
    expect(await limit(null)).toBe(2);
    expect(asked).toEqual(['big', null]);
    expect(await restoreSlotsPerCore(0, async () => 16)('big')).toBe(0);
  });
});
