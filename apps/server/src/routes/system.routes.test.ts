import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

describe('system page data', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(() => ctx.close());

  it('reports the hypervisor, the images and how much is in use', async () => {
    const admin = await signedIn(ctx, 'admin');
    const student = await signedIn(ctx, 'student');
    await makeLab(ctx, student.user.id);
    const info = (await ctx.app.inject({ url: '/api/v1/system', headers: admin.headers })).json();
    expect(info.hypervisor).toMatchObject({
      driver: 'fake',
      accelerator: 'none',
      capabilities: { snapshots: true, consoles: ['serial', 'vnc'] },
    });
    expect(info.images).toEqual(
      [
        { name: 'demo-attacker', kind: 'kernel', available: true },
        { name: 'demo-target', kind: 'kernel', available: true },
        { name: 'debian-12', kind: 'disk', available: true },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(info.capacity).toMatchObject({ labsActive: 1, vmsRunning: 1, vmMemoryMiB: 128 });
    expect(info.capacity.hostCpus).toBeGreaterThan(0);
    expect(info.database).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite');
  });
});
