import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HypervisorError } from '@ctp/hypervisor';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { resetDatabase } from '../test-support/test-database.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

const TITLE = 'Boot probe';

/** Count and sum of a histogram's series for the probe template. */
async function observed(ctx: TestContext, name: 'labTimeToReady' | 'labTimeToRunning') {
  const { values } = await ctx.services.metrics[name].get();
  const metric = name === 'labTimeToReady' ? 'ctp_lab_time_to_ready_seconds' : 'ctp_lab_time_to_running_seconds';
  const of = (suffix: string) => values.find((v) => v.metricName === `${metric}_${suffix}` && v.labels.template === TITLE)?.value ?? 0;
  return { count: of('count'), sum: of('sum') };
}

// Time to ready (every guest answers on its private channel), on the memory driver whose guests
// are made to "boot" for 1.5 s after they start. The template delivers no files, so the lab is
// `running` before its guests are up (with files, delivery waits for them inside the job).
describe('lab time to ready', () => {
  let ctx: TestContext;
  const booting = new Map<string, number>();
  let agentsAnswer = true;
  let waits = 0;

  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    const start = ctx.driver.startVm.bind(ctx.driver);
    ctx.driver.startVm = async (name) => {
      await start(name);
      booting.set(name, Date.now() + 1500);
    };
    const wait = ctx.driver.waitForGuestAgent.bind(ctx.driver);
    ctx.driver.waitForGuestAgent = async (name, timeoutMs = 60_000) => {
      waits++;
      await wait(name, timeoutMs);
      const left = agentsAnswer ? (booting.get(name) ?? 0) - Date.now() : Infinity;
      if (left > timeoutMs || left > 200) {
        await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 200)));
        if (!agentsAnswer || Date.now() < booting.get(name)!) throw new HypervisorError('timeout', 'the guest agent did not answer');
      } else if (left > 0) await new Promise((r) => setTimeout(r, left));
    };
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    ctx.driver.vms.clear();
    ctx.driver.networks.clear();
  });

  /** A published two-VM template without files, tasks or secrets, and a student. */
  const setUp = async () => {
    const admin = await signedIn(ctx, 'admin');
    const { secrets: _s, inject: _i, tasks: _t, ...infrastructure } = DEMO_TEMPLATE;
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: admin.headers,
      payload: { config: { ...infrastructure, title: TITLE } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const templateId = created.json().id as string;
    expect(
      (await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${templateId}/publish`, headers: admin.headers })).statusCode,
    ).toBe(200);
    return { templateId, student: await signedIn(ctx, 'student') };
  };

  it('is observed per template once every VM answers, after time to running', async () => {
    const { templateId, student } = await setUp();
    const before = { ready: await observed(ctx, 'labTimeToReady'), running: await observed(ctx, 'labTimeToRunning') };
    const lab = (await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } })).json();
    await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'running');
    await expect.poll(async () => (await observed(ctx, 'labTimeToReady')).count, { timeout: 10_000 }).toBe(before.ready.count + 1);
    const ready = (await observed(ctx, 'labTimeToReady')).sum - before.ready.sum;
    const running = (await observed(ctx, 'labTimeToRunning')).sum - before.running.sum;
    // The guests answered 1.5 s after they started, which was before the lab was running.
    expect(ready).toBeGreaterThan(running);
    expect(ready).toBeGreaterThanOrEqual(1.4);
    const text = await ctx.services.metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`ctp_lab_time_to_ready_seconds_count\\{template="${TITLE}",host="[^"]+"\\} ${before.ready.count + 1}`));
  });

  it('stops waiting for a lab deleted while its guests boot, observing nothing', async () => {
    const { templateId, student } = await setUp();
    agentsAnswer = false;
    try {
      const before = await observed(ctx, 'labTimeToReady');
      const lab = (await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId } })).json();
      await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'running');
      // The watcher is polling the silent guests.
      await expect.poll(() => waits, { timeout: 5_000 }).toBeGreaterThan(1);
      await ctx.app.inject({ method: 'DELETE', url: `/api/v1/labs/${lab.id}`, headers: student.headers });
      await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'deleted');
      await new Promise((r) => setTimeout(r, 500));
      const settled = waits;
      await new Promise((r) => setTimeout(r, 1000));
      expect(waits).toBe(settled);
      expect((await observed(ctx, 'labTimeToReady')).count).toBe(before.count);
      const { values } = await ctx.services.metrics.labReadyTimeouts.get();
      expect(values.filter((v) => v.value > 0)).toEqual([]);
    } finally {
      agentsAnswer = true;
    }
  });
});
