import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signInDelayMs } from '../services/auth.service.js';
import { createTestApp, createUser, type TestContext } from '../test-support/test-app.js';

/*
 * Defect 8: failed sign-ins never lock an account. Failures are counted per (account, address)
 * pair (that pair is refused), per address (that address is refused), and per account (its
 * sign-ins are slowed down by a growing, bounded delay, never refused from a clean address).
 */
describe('sign-in throttling without lockout', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestApp({ loginMaxFailures: 3, loginDelayMs: 20, loginMaxDelayMs: 1000 });
  });
  afterEach(() => ctx.close());

  const attempt = (username: string, password: string, remoteAddress: string) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { username, password } });

  /** The audit records of sign-ins to `username`, oldest first. */
  const audited = async (username: string) =>
    (await ctx.services.repositories.audit.list({ limit: 100, offset: 0, action: 'auth.login', targetId: username })).rows
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map((row) => ({ outcome: row.outcome, ip: row.ip, ...(row.details as { reason?: string; delayMs?: number }) }));

  it('grows the per-account delay with failures from many addresses, and the right password from a clean address still signs in', async () => {
    const admin = await createUser(ctx, 'admin', 'boss');
    for (let i = 1; i <= 8; i++) expect((await attempt('boss', 'wrong password', `10.0.0.${i}`)).statusCode).toBe(401);
    const started = Date.now();
    const ok = await attempt('boss', admin.password, '192.168.7.7');
    const waited = Date.now() - started;
    expect(ok.statusCode, ok.body).toBe(200);
    const records = await audited('boss');
    expect(records.map((r) => r.outcome)).toEqual([...Array(8).fill('failure'), 'success']);
    // No delay below the threshold, then 20, 40, 80 ... ms, capped at 1 s.
    expect(records.map((r) => r.delayMs)).toEqual([0, 0, 0, 20, 40, 80, 160, 320, 640]);
    expect(waited).toBeGreaterThanOrEqual(640);
    // Every address used once is still clean for another account.
    const other = await createUser(ctx, 'student', 'other');
    expect((await attempt('other', other.password, '10.0.0.1')).statusCode).toBe(200);
  });

  it('caps the delay', () => {
    const limits = { slowDownAfter: 3, baseDelayMs: 20, maxDelayMs: 1000 };
    expect([2, 3, 4, 9, 10, 1000].map((n) => signInDelayMs(n, limits))).toEqual([0, 20, 40, 1000, 1000, 1000]);
  });

  it('refuses the pair that failed, with the right password too, while another address signs in', async () => {
    const user = await createUser(ctx, 'student', 'carol');
    for (let i = 0; i < 3; i++) expect((await attempt('carol', 'nope nope', '10.6.6.6')).statusCode).toBe(401);
    const same = await attempt('carol', user.password, '10.6.6.6');
    expect(same.statusCode).toBe(429);
    expect((await attempt('carol', user.password, '10.7.7.7')).statusCode).toBe(200);
    expect((await audited('carol')).map((r) => `${r.outcome}:${r.reason ?? ''}`)).toEqual([
      'failure:bad_password',
      'failure:bad_password',
      'failure:bad_password',
      'denied:rate_limited',
      'success:',
    ]);
  });

  it('lets one address wait for at most two slowed-down sign-ins at a time', async () => {
    await createUser(ctx, 'student', 'dora');
    // Nine failures: the next attempts wait the longest delay (1 s), so the three overlap.
    for (let i = 1; i <= 9; i++) await attempt('dora', 'wrong password', `10.2.0.${i}`);
    const answers = await Promise.all([1, 2, 3].map(() => attempt('dora', 'wrong again', '10.3.3.3')));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([401, 401, 429]);
    expect((await audited('dora')).filter((r) => r.reason === 'too_many_waiting')).toHaveLength(1);
  });
});
