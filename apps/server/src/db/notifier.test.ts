import { describe, expect, it, vi } from 'vitest';
import { testDatabase } from '../test-support/test-database.js';

describe('database notifier (NOTIFY/LISTEN, in process on PGlite, on a connection of the server)', () => {
  it('tells every listener of the channel, in order, not those of another channel, and no one after unlisten', async () => {
    const database = await testDatabase();
    const channel = `ctp_test_${Math.random().toString(36).slice(2, 8)}`;
    // Two notifiers of one channel: two API instances sharing the database.
    const [a, b, elsewhere] = [database.notifier(channel), database.notifier(channel), database.notifier(`${channel}_other`)];
    const heard: string[] = [];
    const heardElsewhere: string[] = [];
    const stopA = await a.listen({ onPayload: (p) => heard.push(`a:${p}`) });
    const stopB = await b.listen({ onPayload: (p) => heard.push(`b:${p}`) });
    const stopOther = await elsewhere.listen({ onPayload: (p) => heardElsewhere.push(p) });

    await a.notify('1');
    await b.notify('2');
    await vi.waitUntil(() => heard.length === 4, { timeout: 5000 });
    expect(heard.filter((h) => h.startsWith('a:'))).toEqual(['a:1', 'a:2']);
    expect(heard.filter((h) => h.startsWith('b:'))).toEqual(['b:1', 'b:2']);

    await stopB();
    await b.notify('3');
    await vi.waitUntil(() => heard.length === 5, { timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard.slice(4)).toEqual(['a:3']);
    expect(heardElsewhere).toEqual([]);
    await Promise.all([stopA(), stopOther()]);
  });
});
