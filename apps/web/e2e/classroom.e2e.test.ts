// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_TEMPLATE } from '../../server/src/test-support/content-template.js';
import { createTestApp, signedIn, type TestContext } from '../../server/src/test-support/test-app.js';

const webRoot = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dist = path.join(webRoot, 'dist');

// Teaching a class live in Chromium: the dashboard follows a student's answer, a help request
// goes round, an announcement appears as a banner. No VM is needed: the in-memory driver.
describe('the classroom in a real browser', () => {
  let browser: Browser;
  let ctx: TestContext;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(path.join(dist, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: webRoot, stdio: 'inherit' });
    ctx = await createTestApp({ answersPerMinute: 100 }, { background: true, webDist: dist });
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  async function signIn(username: string, password: string): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    await page.goto(base);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('signed in as').waitFor();
    return page;
  }

  it('updates the dashboard live when a student solves a task; help request round trip; announcement banner', async () => {
    const teacher = await signedIn(ctx, 'instructor');
    const student = await signedIn(ctx, 'student');
    const template = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: teacher.headers,
      payload: { config: CONTENT_TEMPLATE },
    });
    const klass = (
      await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/classes',
        headers: teacher.headers,
        payload: { name: 'Web 101', description: '' },
      })
    ).json();
    await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.id}/students`,
      headers: teacher.headers,
      payload: { usernames: [student.user.username] },
    });
    const assignment = (
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/classes/${klass.id}/assignments`,
        headers: teacher.headers,
        payload: {
          templateId: template.json().id,
          opensAt: new Date(Date.now() - 60_000).toISOString(),
          closesAt: new Date(Date.now() + 3600_000).toISOString(),
          labLifetimeMinutes: 60,
        },
      })
    ).json();
    const provisioned = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/assignments/${assignment.id}/provision`,
      headers: teacher.headers,
    });
    const labId = provisioned.json().created[0].labId as string;

    const teacherPage = await signIn(teacher.user.username, teacher.user.password);
    const studentPage = await signIn(student.user.username, student.user.password);

    // The dashboard: the student's row, then their answer shows up without a reload.
    // Reached from the class page, as an instructor would.
    await teacherPage.goto(`${base}/staff/classes/${klass.id}`);
    await teacherPage.getByRole('link', { name: 'Live progress' }).click();
    await expect.poll(() => teacherPage.url()).toBe(`${base}/staff/assignments/${assignment.id}/progress`);
    const score = teacherPage.getByTestId(`score-${student.user.username}`);
    await expect.poll(() => score.textContent(), { timeout: 20_000 }).toBe('0/27');
    await expect
      .poll(() => teacherPage.getByTestId(`progress-${student.user.username}`).textContent(), { timeout: 20_000 })
      .toContain('running');
    const flag = ctx.services.tasks.secretValues(labId, CONTENT_TEMPLATE).flag!;
    const answered = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/labs/${labId}/tasks/flag/answers`,
      headers: student.headers,
      payload: { answer: flag },
    });
    expect(answered.json().correct).toBe(true);
    await expect.poll(() => score.textContent(), { timeout: 10_000 }).toBe('10/27');
    expect(await teacherPage.getByTestId(`task-${student.user.username}-flag`).getAttribute('aria-label')).toBe('flag: solved');

    // Help: the student asks on their lab page; the teacher's queue shows it live; taking it tells the student.
    await studentPage.goto(`${base}/labs/${labId}`);
    await teacherPage.goto(`${base}/staff/help`);
    await teacherPage.getByText('Nobody is waiting for help.').waitFor();
    await studentPage.getByRole('button', { name: 'Ask for help' }).click();
    await studentPage.getByLabel('What are you stuck on?').fill('The check never passes');
    await studentPage.getByRole('button', { name: 'Send' }).click();
    await studentPage.getByText('you are number 1 in the queue').waitFor();
    const row = teacherPage.getByTestId(`help-${student.user.username}`);
    await row.getByText('The check never passes').waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: 'Take' }).click();
    await studentPage.getByText(`${teacher.user.username} is coming to help you.`).waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: 'Resolve' }).click();
    await teacherPage.getByText('Nobody is waiting for help.').waitFor({ timeout: 10_000 });
    await studentPage.getByRole('button', { name: 'Ask for help' }).waitFor({ timeout: 10_000 });

    // An announcement appears on the student's page as it is sent.
    const announced = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/classes/${klass.id}/announcements`,
      headers: teacher.headers,
      payload: { message: 'Ten minutes left' },
    });
    expect(announced.statusCode).toBe(201);
    const banner = studentPage.getByTestId('announcement');
    await expect.poll(() => banner.textContent(), { timeout: 10_000 }).toContain('Ten minutes left');
  });
});
