import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { PlatformStats } from '@ctp/contracts';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { percentile } from './stats.service.js';

describe('platform samples (admin overview)', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    await ctx?.app.close();
    ctx = await createTestApp();
  });
  afterAll(async () => ctx?.app.close());

  it('samples labs, VMs, provisioning times and failures of the minute, keeps them for the retention, and serves them to staff', async () => {
    const admin = await signedIn(ctx, 'admin');
    const { lab } = await makeLab(ctx, admin.user.id, 'running');
    const labs = ctx.services.repositories.labs;
    const created = (await labs.findById(lab.id))!.createdAt;
    await labs.replaceSteps(lab.id, 'provision', ['Create VM box', 'Start VMs']);
    const finished = new Date(created.getTime() + 12_000);
    await labs.updateStep(lab.id, 0, { status: 'done', finishedAt: new Date(created.getTime() + 5_000) });
    await labs.updateStep(lab.id, 1, { status: 'done', finishedAt: finished });
    const old = new Date(Date.now() - 40 * 86_400_000);
    await ctx.services.repositories.stats.insert({
      sampledAt: old,
      labs: {},
      vmsRunning: 0,
      vmsTotal: 0,
      vmCpus: 0,
      vmMemoryMiB: 0,
      hostCpus: 1,
      hostMemoryMiB: 1,
      provisions: 0,
      provisionFailures: 0,
      provisionP50Seconds: null,
      provisionP95Seconds: null,
      readyP50Seconds: null,
      readyP95Seconds: null,
    });

    const readyAt = new Date(created.getTime() + 20_000);
    await labs.update(lab.id, { readyAt });
    const now = new Date(Math.floor(finished.getTime() / 60_000) * 60_000 + 61_000);
    const sample = await ctx.services.stats.sample(now);
    expect(sample).toMatchObject({ provisions: 1, provisionFailures: 0, provisionP50Seconds: 12, provisionP95Seconds: 12, vmsRunning: 1 });
    expect(sample.labs).toMatchObject({ running: 1 });
    // Its guests all answered 20 s after the request: time to ready, in the sample of that minute.
    const readySample = await ctx.services.stats.sample(new Date(Math.floor(readyAt.getTime() / 60_000) * 60_000 + 61_000));
    expect(readySample).toMatchObject({ readyP50Seconds: 20, readyP95Seconds: 20 });
    // A second instance sampling the same minute changes nothing.
    await ctx.services.stats.sample(now);

    const answer = await ctx.app.inject({ url: '/api/v1/system/stats?hours=48', headers: admin.headers });
    expect(answer.statusCode).toBe(200);
    const samples = (answer.json() as PlatformStats).samples;
    expect(samples[0]).toMatchObject({ at: sample.sampledAt.toISOString(), provisions: 1, provisionP95Seconds: 12 });
    expect(samples.filter((x) => x.readyP95Seconds === 20)).toHaveLength(1);
    expect((await ctx.services.repositories.stats.since(new Date(0))).map((s) => s.sampledAt)).not.toContainEqual(old);
    expect((await ctx.app.inject({ url: '/api/v1/system/stats?hours=0', headers: admin.headers })).statusCode).toBe(400);
  });

  it('takes percentiles by nearest rank', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBe(10);
  });
});
