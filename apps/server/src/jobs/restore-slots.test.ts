import { describe, expect, it } from 'vitest';
import { RestoreSlots } from './restore-slots.js';

describe('restore slots', () => {
  it('lets `perHost` holders in at once per host, the rest in request order as slots are given back', async () => {
    const slots = new RestoreSlots(2);
    const order: string[] = [];
    const a = await slots.acquire('h1');
    const b = await slots.acquire('h1');
    const other = await slots.acquire('h2');
    expect([slots.inUse('h1'), slots.inUse('h2')]).toEqual([2, 1]);
    const c = slots.acquire('h1').then((release) => (order.push('c'), release));
    const d = slots.acquire('h1').then((release) => (order.push('d'), release));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    b();
    b(); // a second release of the same slot gives nothing back
    const releaseC = await c;
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['c']);
    a();
    (await d)();
    releaseC();
    other();
    expect([slots.inUse('h1'), slots.inUse('h2')]).toEqual([0, 0]);
    expect(order).toEqual(['c', 'd']);
  });

  it('limits nothing with 0, and counts labs without a host as one host', async () => {
    const unlimited = new RestoreSlots(0);
    const held = await Promise.all(Array.from({ length: 50 }, () => unlimited.acquire('h1')));
    expect(unlimited.inUse('h1')).toBe(50);
    for (const release of held) release();
    expect(unlimited.inUse('h1')).toBe(0);
    const one = new RestoreSlots(1);
    const first = await one.acquire(null);
    let second = false;
    const next = one.acquire(null).then((release) => ((second = true), release));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBe(false);
    first();
    (await next)();
    expect(second).toBe(true);
    expect(one.inUse(null)).toBe(0);
  });
});
