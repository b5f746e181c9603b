// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDriver } from '@ctp/hypervisor';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config.js';
import { openDatabase, type Database } from '../../server/src/db/database.js';
import { emptyTables } from '../../server/src/test-support/test-database.js';
import { createImageCatalog } from '../../server/src/services/image-catalog.js';
import { hashPassword } from '../../server/src/services/password.js';
import { createServices } from '../../server/src/services.js';

const webRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dist = path.join(webRoot, 'dist');
const shots = path.resolve(webRoot, '../../artifacts/screenshots');

// The admin overview's charts, drawn in Chromium from samples stored in the database. No VM is
// needed, so the hypervisor is the in-memory driver (the services above it are the real ones).
describe('admin overview charts in a real browser', () => {
  let browser: Browser;
  let base: string;
  let database: Database;
  let close: () => Promise<void>;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-overview-'));

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: webRoot, stdio: 'inherit' });
    mkdirSync(shots, { recursive: true });
    const config = {
      ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
      jwtSecret: 'overview-secret-0123456789abcdef0123',
      schedules: false,
    };
    database = await openDatabase({ databaseUrl: process.env.DATABASE_URL });
    await emptyTables(database);
    const services = createServices(config, database, { driver: new FakeDriver(), images: createImageCatalog(dataDir) });
    await services.repositories.users.insert({
      username: 'admin',
      role: 'admin',
      passwordHash: await hashPassword('admin-password'),
      email: null,
    });
    // Half an hour of samples: labs ramping up, provisioning getting slower, one failing minute.
    const now = Math.floor(Date.now() / 60_000) * 60_000;
    for (let i = 30; i >= 1; i--) {
      await services.repositories.stats.insert({
        sampledAt: new Date(now - i * 60_000),
        labs: { running: 31 - i, provisioning: i % 3, error: i === 10 ? 1 : 0 },
        vmsRunning: 2 * (31 - i),
        vmsTotal: 2 * (31 - i) + 1,
        vmCpus: 31 - i,
        vmMemoryMiB: 128 * 2 * (31 - i),
        hostCpus: 8,
        hostMemoryMiB: 16_384,
        provisions: i % 4,
        provisionFailures: i === 10 ? 1 : 0,
        provisionP50Seconds: i % 4 ? 4 + (30 - i) / 10 : null,
        provisionP95Seconds: i % 4 ? 7 + (30 - i) / 5 : null,
        readyP50Seconds: i % 4 ? 9 + (30 - i) / 10 : null,
        readyP95Seconds: i % 4 ? 14 + (30 - i) / 5 : null,
      });
    }
    const app = await buildApp(config, services, false, { webDist: dist });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    close = () => app.close();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  });

  afterAll(async () => {
    await browser?.close();
    await close?.();
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('draws labs and VMs, provisioning percentiles, failures and host capacity, loading the charts only on that page', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1400 } })).newPage();
    const scripts: string[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('.js')) scripts.push(response.url());
    });
    await page.goto(base);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('signed in as').waitFor();
    expect(scripts.some((s) => s.includes('OverviewPage'))).toBe(false);

    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    const labs = page.getByRole('figure', { name: 'Labs and VMs' });
    await labs.locator('.recharts-line-curve').first().waitFor();
    expect(scripts.some((s) => s.includes('OverviewPage'))).toBe(true);
    // Two drawn lines with real extents (not empty paths), and their legend.
    expect(await labs.locator('path.recharts-line-curve').count()).toBe(2);
    expect(((await labs.locator('path.recharts-line-curve').first().getAttribute('d')) ?? '').length).toBeGreaterThan(50);
    await expect.poll(() => labs.locator('.recharts-legend-wrapper').textContent()).toContain('VMs running');
    const provisioning = page.getByRole('figure', { name: /Provisioning time/ });
    expect(await provisioning.locator('path.recharts-line-curve').count()).toBe(2);
    await expect.poll(() => provisioning.locator('.recharts-legend-wrapper').textContent()).toContain('p95');
    const ready = page.getByRole('figure', { name: /Time to ready/ });
    expect(await ready.locator('path.recharts-line-curve').count()).toBe(2);
    expect(((await ready.locator('path.recharts-line-curve').last().getAttribute('d')) ?? '').length).toBeGreaterThan(50);
    const failures = page.getByRole('figure', { name: 'Provisionings and failures' });
    // One red bar: the failing minute.
    expect(await failures.locator('.recharts-bar-rectangle path[fill="#d32f2f"]').count()).toBe(1);
    const capacity = page.getByRole('figure', { name: /Host capacity/ });
    expect(await capacity.locator('path.recharts-line-curve').count()).toBe(2);
    await page.screenshot({ path: path.join(shots, 'admin-overview.png'), fullPage: true });
  });
});
