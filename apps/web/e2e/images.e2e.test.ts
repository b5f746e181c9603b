// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { createServices, type Services } from '../../server/src/services.js';

const webRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dist = path.join(webRoot, 'dist');
const shots = path.resolve(webRoot, '../../artifacts/screenshots');

// The Images page in Chromium against the real server, database and image library (real
// `qemu-img`); no VM boots, so the hypervisor is the in-memory driver.
describe('Images page in a real browser', () => {
  let browser: Browser;
  let base: string;
  let database: Database;
  let services: Services;
  let close: () => Promise<void>;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-images-e2e-'));

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: webRoot, stdio: 'inherit' });
    mkdirSync(shots, { recursive: true });
    const config = {
      ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
      jwtSecret: 'images-e2e-secret-0123456789abcdef0123',
      schedules: false,
    };
    database = await openDatabase({ databaseUrl: process.env.DATABASE_URL });
    await emptyTables(database);
    services = createServices(config, database, {
      driver: new FakeDriver(),
      images: createImageCatalog(path.join(dataDir, 'no-builtins')),
    });
    await services.repositories.users.insert({
      username: 'admin',
      role: 'admin',
      passwordHash: await hashPassword('admin-password'),
      email: null,
    });
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

  it('uploads with a progress bar and checksum, lists the image, refuses a wrong checksum, deletes it', async () => {
    // A raw disk with content (not sparse zeros), large enough for upload progress to be reported.
    const file = path.join(dataDir, 'lab-disk.raw');
    writeFileSync(file, Buffer.alloc(48 * 2 ** 20, 'ctp-'));
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');

    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto(base);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('admin-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('signed in as').waitFor();
    await page.getByRole('link', { name: 'Images', exact: true }).click();
    await page.getByRole('heading', { name: 'Images' }).waitFor();
    // Every value the progress bar shows, recorded in the page as it changes.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        const bar = document.querySelector('[aria-label="upload progress"]');
        const value = bar?.getAttribute('aria-valuenow');
        if (value !== null && value !== undefined && seen.at(-1) !== value) seen.push(value);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });

    const form = page.getByRole('form', { name: 'upload an image' });
    const upload = async (name: string, checksum: string) => {
      await page.getByLabel('image file').setInputFiles(file);
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('Format').click();
      await page.getByRole('option', { name: 'raw', exact: true }).click();
      await form.getByLabel('Expected sha256 (optional)').fill(checksum);
      await form.getByRole('button', { name: 'Upload' }).click();
      return form.getByRole('alert');
    };

    // A wrong checksum: refused with the reason, nothing listed, nothing stored.
    const refused = await upload('lab-disk', '0'.repeat(64));
    await expect.poll(() => refused.textContent(), { timeout: 30_000 }).toMatch(/sha256/i);
    expect(await page.getByRole('row', { name: 'image lab-disk' }).count()).toBe(0);
    expect(await services.repositories.images.findByName('lab-disk')).toBeUndefined();

    const accepted = await upload('lab-disk', sha256);
    await expect.poll(() => accepted.textContent(), { timeout: 60_000 }).toMatch(/lab-disk (uploaded: converting|is ready)/);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen.map(Number));
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeGreaterThan(0);

    // Listed with its format, converted to qcow2 by the job (the page polls), with its size.
    const row = page.getByRole('row', { name: 'image lab-disk' });
    await expect.poll(() => row.textContent(), { timeout: 60_000 }).toMatch(/lab-diskrawready\d+ MiB/);
    await page.screenshot({ path: path.join(shots, 'images.png'), fullPage: true });

    await row.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByRole('row', { name: 'image lab-disk' }).count(), { timeout: 15_000 }).toBe(0);
    expect(await services.repositories.images.findByName('lab-disk')).toBeUndefined();
    // Each action left its audit event, the refused upload included.
    const actions = async () =>
      (await services.repositories.audit.list({ limit: 50, offset: 0, action: 'image.*' })).rows.map((r) => `${r.action}:${r.outcome}`);
    await expect.poll(actions).toEqual(expect.arrayContaining(['image.upload:failure', 'image.upload:success', 'image.delete:success']));
  }, 180_000);
});
