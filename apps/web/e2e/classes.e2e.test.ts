// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabTemplateConfig } from '@ctp/contracts';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { DEMO_IMAGES_DIR, demoImages, testAcceleratorCache } from '@ctp/hypervisor/test-support';
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

// One guest per lab keeps the browser test lean.
const ONE_BOX: LabTemplateConfig = {
  version: 1,
  title: 'Port scanning 101',
  description: 'A single target to scan.',
  networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
  vms: [{ name: 'target', image: 'demo-target', nics: [{ network: 'lan', address: '10.0.0.20' }] }],
};

// An instructor creates a class, imports a roster CSV and assigns a lab; a student the import
// created signs in with the password shown once and starts the assignment (a real QEMU guest).
describe('classes in a real browser', () => {
  let browser: Browser;
  let base: string;
  let services: Services;
  let database: Database;
  let close: () => Promise<void>;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-e2e-classes-'));
  const driver = new QemuDriver({
    stateDir: path.join(dataDir, 'vms'),
    network: new BridgeNetworkBackend(runCommand, ownerOf(dataDir)),
    probeKernel: demoImages().target.kernel,
    acceleratorCacheFile: testAcceleratorCache(),
  });

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: webRoot, stdio: 'inherit' });
    mkdirSync(shots, { recursive: true });
    const config = {
      ...loadConfig({ CTP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
      jwtSecret: 'e2e-secret-0123456789abcdef0123456789',
      schedules: false,
    };
    database = await openDatabase({ databaseUrl: process.env.DATABASE_URL });
    await emptyTables(database);
    services = createServices(config, database, { driver, images: createImageCatalog(DEMO_IMAGES_DIR) });
    const prof = await services.repositories.users.insert({
      username: 'prof',
      role: 'instructor',
      passwordHash: await hashPassword('prof-password'),
      email: null,
    });
    await services.repositories.users.insert({
      username: 'returning',
      role: 'student',
      passwordHash: await hashPassword('returning-pw'),
      email: null,
    });
    await services.templates.create({ id: prof.id, username: 'prof', role: 'instructor' }, ONE_BOX);
    const app = await buildApp(config, services, false, { webDist: dist });
    await services.startBackground();
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    close = async () => {
      await app.close();
      await services.stopBackground();
    };
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
    for (const network of await driver.listNetworks()) await driver.destroyNetwork(network.name);
    driver.close();
    await close?.();
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signIn(username: string, password: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(base);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('signed in as').waitFor();
    return page;
  }

  it('instructor creates a class, imports a roster CSV, assigns a lab; the new student signs in and starts it', async () => {
    const prof = await signIn('prof', 'prof-password');
    await prof.getByRole('link', { name: 'Classes', exact: true }).click();
    await prof.getByLabel('Class name').fill('Network security, autumn');
    await prof.getByRole('button', { name: 'Create class' }).click();
    await prof.getByRole('heading', { name: 'Network security, autumn' }).waitFor();

    // A bad line first: nothing is imported and the line is named.
    const roster = prof.getByLabel('Roster CSV');
    await roster.fill('username,email,name\nnewbie,newbie@example.edu,New Bie\nbad name,x@example.edu,\n');
    await prof.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(() => prof.getByRole('alert').first().textContent(), { timeout: 15_000 }).toContain('Nothing was imported');
    await prof
      .getByRole('alert')
      .getByText(/line 3: "bad name" is not a valid username/)
      .waitFor();
    expect(await prof.getByRole('table', { name: 'enrolled students' }).getByRole('row').count()).toBe(1);

    await roster.fill('username,email,name\nnewbie,newbie@example.edu,New Bie\nreturning,returning@example.edu,\n');
    await prof.getByRole('button', { name: 'Import', exact: true }).click();
    const credentials = prof.getByRole('table', { name: 'generated credentials' });
    await credentials.waitFor();
    const cells = await credentials.getByRole('row').nth(1).getByRole('cell').allTextContents();
    expect(cells[0]).toBe('newbie');
    const password = cells[1]!;
    expect(password.length).toBeGreaterThanOrEqual(16);
    await prof.getByRole('table', { name: 'enrolled students' }).getByRole('cell', { name: 'New Bie' }).waitFor();
    await prof.getByRole('cell', { name: 'returning', exact: true }).waitFor();
    await prof.screenshot({ path: path.join(shots, 'instructor-class.png') });

    await prof.getByLabel('Template').click();
    await prof.getByRole('option', { name: 'Port scanning 101' }).click();
    await prof.getByRole('button', { name: 'Assign' }).click();
    await prof.getByRole('row', { name: 'assignment Port scanning 101' }).getByText('open').waitFor();

    const student = await signIn('newbie', password);
    // A student gets no staff navigation.
    expect(await student.getByRole('link', { name: 'Classes', exact: true }).count()).toBe(0);
    const card = student.getByRole('region', { name: 'my assignments' }).getByLabel('assignment Port scanning 101');
    await card.getByRole('button', { name: 'Start' }).click();
    await student.waitForURL(/\/labs\/[0-9a-f-]{36}$/);
    await student.getByTestId('lab-status').getByText('running', { exact: true }).waitFor({ timeout: 90_000 });
    await student.screenshot({ path: path.join(shots, 'student-assignment-lab.png') });
    // Back on the dashboard the assignment links to the lab instead of starting another.
    await student.goto(base);
    await card.getByRole('link', { name: 'Open lab' }).waitFor();
  });
});
