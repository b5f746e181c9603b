// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDriver } from '@ctp/hypervisor';
import { buildApp } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config.js';
import { openDatabase, type Database } from '../../server/src/db/database.js';
import { emptyTables } from '../../server/src/test-support/test-database.js';
import { createImageCatalog } from '../../server/src/services/image-catalog.js';
import { hashPassword } from '../../server/src/services/password.js';
import { createServices, type Services } from '../../server/src/services.js';
import { startOidcProvider, type TestOidcProvider } from '../../server/src/test-support/oidc-provider.js';
import { freePort } from '../../server/src/test-support/server-process.js';

const webRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dist = path.join(webRoot, 'dist');
const shots = path.resolve(webRoot, '../../artifacts/screenshots');

// Single sign-on in Chromium against a real OpenID Connect provider (oidc-provider, its own
// login page), through the built app. No VM is needed: the hypervisor is the in-memory driver.
describe('single sign-on in a real browser', () => {
  let browser: Browser;
  let provider: TestOidcProvider;
  let services: Services;
  let base: string;
  let database: Database;
  let close: () => Promise<void>;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ctp-sso-'));

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: webRoot, stdio: 'inherit' });
    mkdirSync(shots, { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // The callback URL is derived from the request's host: registered at the provider as such.
    provider = await startOidcProvider(`${base}/api/v1/auth/oidc/callback`);
    const config = {
      ...loadConfig({
        CTP_DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        CTP_OIDC_ISSUER: provider.issuer,
        CTP_OIDC_CLIENT_ID: provider.clientId,
        CTP_OIDC_CLIENT_SECRET: provider.clientSecret,
        CTP_OIDC_NAME: 'University login',
        CTP_OIDC_SCOPES: 'openid profile email groups',
        CTP_OIDC_ADMIN_VALUES: 'ctp-admins',
        CTP_OIDC_INSTRUCTOR_VALUES: 'teachers',
        CTP_LOCAL_PASSWORDS: 'admins',
      }),
      jwtSecret: 'sso-e2e-secret-0123456789abcdef0123456789',
      schedules: false,
    };
    database = await openDatabase({ databaseUrl: process.env.DATABASE_URL });
    await emptyTables(database);
    services = createServices(config, database, { driver: new FakeDriver(), images: createImageCatalog(dataDir) });
    await services.sessions.start();
    for (const [username, role] of [
      ['root', 'admin'],
      ['sam', 'student'],
    ] as const)
      await services.repositories.users.insert({ username, role, passwordHash: await hashPassword('local-password-1'), email: null });
    const app = await buildApp(config, services, false, { webDist: dist });
    await app.listen({ port, host: '127.0.0.1' });
    close = async () => {
      await app.close();
      await services.sessions.stop();
    };
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  });

  afterAll(async () => {
    await browser?.close();
    await close?.();
    await provider?.close();
    await database?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** From the app's sign-in page through the provider's login page, as `login`. */
  const signInThroughProvider = async (page: Page, login: string) => {
    await page.goto(base);
    await page.getByRole('link', { name: 'Sign in with University login' }).click();
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('provider-password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
  };

  it('signs in through the provider and lands in the app, signed in with the mapped role', async () => {
    provider.accounts.set('sub-olga', { preferred_username: 'olga', email: 'olga@uni.test', email_verified: true, groups: ['teachers'] });
    const page = await (await browser.newContext()).newPage();
    await signInThroughProvider(page, 'sub-olga');
    await page.waitForURL(`${base}/`);
    const who = page.getByLabel('signed in as');
    await who.waitFor();
    expect(await who.textContent()).toBe('olga (instructor)');
    await page.screenshot({ path: path.join(shots, 'sso-signed-in.png') });
    // A reload keeps the session (the refresh cookie), as after a password sign-in.
    await page.reload();
    await page.getByLabel('signed in as').waitFor();
    const created = await services.repositories.audit.list({ limit: 5, offset: 0, action: 'user.create' });
    expect(created.rows[0]).toMatchObject({ actorUsername: 'olga', details: { source: 'oidc', role: 'instructor' } });
  });

  it('refuses a disabled user with a clear message', async () => {
    provider.accounts.set('sub-pete', { preferred_username: 'pete', groups: [] });
    const first = await (await browser.newContext()).newPage();
    await signInThroughProvider(first, 'sub-pete');
    await first.getByLabel('signed in as').waitFor();
    const pete = (await services.repositories.users.findByUsername('pete'))!;
    const root = (await services.repositories.users.findByUsername('root'))!;
    await services.users.update({ id: root.id, username: root.username, role: 'admin' }, pete.id, { disabled: true });

    const page = await (await browser.newContext()).newPage();
    await signInThroughProvider(page, 'sub-pete');
    await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('Your account on this platform is disabled');
    await page.screenshot({ path: path.join(shots, 'sso-disabled.png') });
    await page.getByRole('link', { name: 'Back to the sign-in page' }).click();
    await page.getByRole('link', { name: 'Sign in with University login' }).waitFor();
    expect(await page.getByLabel('signed in as').count()).toBe(0);
  });

  it('refuses a local password to a student when local passwords are for administrators only', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(base);
    await page.getByText('administrators: local password').waitFor();
    await page.getByLabel('Username').fill('sam');
    await page.getByLabel('Password').fill('local-password-1');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Local passwords are turned off here except for administrators');
    await page.screenshot({ path: path.join(shots, 'sso-local-refused.png') });
    // An administrator still signs in with a local password.
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('Password').fill('local-password-1');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('signed in as').waitFor();
    expect(await page.getByLabel('signed in as').textContent()).toBe('root (admin)');
  });
});
