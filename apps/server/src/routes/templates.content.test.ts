import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEMO_TEMPLATE } from '../services/demo-template.js';
import { CONTENT_TEMPLATE } from '../test-support/content-template.js';
import { resetDatabase } from '../test-support/test-database.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

const BROKEN_TASKS = `version: 1
title: Broken tasks
networks:
  - name: lan
    cidr: 10.0.0.0/24
vms:
  - name: box
    image: demo-target
    nics:
      - network: lan
secrets:
  - name: flag
    type: flag
inject:
  - vm: nobox
    path: /root/flag.txt
    content: "{{flag}} {{nope}}"
tasks:
  - id: one
    title: One
    answers:
      - secret: missing
      - regex: "(unclosed"
    requires: [two]
  - id: two
    title: Two
    requires: [one]
    check:
      vm: box
      run: "cat {{ghost}}"
  - id: three
    title: Three
    type: choice
    options:
      - id: a
        text: A
      - id: b
        text: B
`;

describe('templates with training content', () => {
  let ctx: TestContext;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let student: Awaited<ReturnType<typeof signedIn>>;
  beforeAll(async () => {
    ctx = await createTestApp();
    teacher = await signedIn(ctx, 'instructor');
    student = await signedIn(ctx, 'student');
  });
  afterAll(() => ctx.close());

  it('names every content problem with its field and YAML line', async () => {
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...teacher.headers, 'content-type': 'application/yaml' },
      payload: BROKEN_TASKS,
    });
    expect(response.statusCode).toBe(400);
    const details = response.json().error.details as { field: string; message: string; line: number }[];
    expect(details).toEqual(
      expect.arrayContaining([
        { field: 'inject[0].vm', message: 'unknown VM "nobox"', line: 15 },
        { field: 'inject[0].content', message: 'unknown secret "{{nope}}"', line: 17 },
        { field: 'tasks[0].answers[0].secret', message: 'unknown secret "missing"', line: 22 },
        { field: 'tasks[0].answers[1].regex', message: 'not a valid regular expression', line: 23 },
        { field: 'tasks[1].check.run', message: 'unknown secret "{{ghost}}"', line: 30 },
        { field: 'tasks[2].options', message: 'no option is marked correct', line: 35 },
        expect.objectContaining({ field: 'tasks[0].requires', message: 'tasks require each other in a circle: one → two → one' }),
      ]),
    );
  });

  it('accepts the full format, shows staff everything and students the student view', async () => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...teacher.headers, 'content-type': 'application/yaml' },
      payload: stringify(CONTENT_TEMPLATE),
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id;
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${id}/publish`, headers: teacher.headers });
    const staffView = (await ctx.app.inject({ url: `/api/v1/templates/${id}`, headers: teacher.headers })).json();
    expect(staffView.audience).toBe('staff');
    expect(staffView.config.tasks[1].answers).toEqual([{ secret: 'flag' }]);
    const studentView = (await ctx.app.inject({ url: `/api/v1/templates/${id}`, headers: student.headers })).json();
    expect(studentView).toMatchObject({
      audience: 'student',
      title: 'Content lab',
      vms: [{ name: 'attacker', addresses: [{ network: 'lan', address: '10.0.0.10' }] }],
      networks: [{ name: 'lan', cidr: '10.0.0.0/24' }],
      tasks: [
        { id: 'intro', type: 'info', points: 0 },
        { id: 'flag', type: 'answer', points: 10 },
        { id: 'word', type: 'answer', points: 5 },
        { id: 'pick', type: 'choice', points: 4 },
        { id: 'proof', type: 'check', points: 8 },
      ],
    });
    expect(studentView).not.toHaveProperty('config');
    expect(JSON.stringify(studentView)).not.toMatch(/vault|settings|answers|solution|check\b.*run/);
  });

  it('keeps old v1 tasks (description, no type) valid', async () => {
    const old = {
      ...CONTENT_TEMPLATE,
      secrets: undefined,
      inject: undefined,
      allowSolutions: undefined,
      tasks: [{ id: 'scan', title: 'Scan', description: 'Old text', points: 3 }],
    };
    const created = await ctx.app.inject({ method: 'POST', url: '/api/v1/templates', headers: teacher.headers, payload: { config: old } });
    expect(created.statusCode, created.body).toBe(201);
  });

  it('imports a CTFd challenge.yml for staff, listing what it cannot carry over', async () => {
    const challenge = readFileSync(new URL('../services/fixtures/ctfd/full.challenge.yml', import.meta.url), 'utf8');
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates/import/ctfd',
      headers: teacher.headers,
      payload: { challenge },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().task).toMatchObject({ id: 'robots-everywhere', points: 150, maxAttempts: 5 });
    expect(response.json().unsupported).toContainEqual({ field: 'files', reason: expect.stringContaining('inject') });
    const refused = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates/import/ctfd',
      headers: student.headers,
      payload: { challenge },
    });
    expect(refused.statusCode).toBe(403);
    const broken = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates/import/ctfd',
      headers: teacher.headers,
      payload: { challenge: 'title: no name' },
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.message).toMatch(/no name/);
  });

  // Last: it empties the database.
  it('brings an installed demo up to date, unless a person edited it', async () => {
    await resetDatabase();
    const repo = ctx.services.repositories.templates;
    const old = { ...DEMO_TEMPLATE, secrets: undefined, inject: undefined, tasks: [{ id: 'scan', title: 'Old task', points: 10 }] };
    const installed = await repo.create({
      name: DEMO_TEMPLATE.title,
      description: '',
      config: old,
      source: '',
      ownerId: null,
      status: 'published',
    });
    const upgraded = await ctx.services.templates.ensureDemoTemplate();
    expect(upgraded.id).toBe(installed.id);
    expect(upgraded.version).toBe(2);
    expect(upgraded.config).toEqual(DEMO_TEMPLATE);
    expect((await ctx.services.templates.ensureDemoTemplate()).version).toBe(2);
    const admin = await signedIn(ctx, 'admin');
    await repo.addVersion(installed.id, { name: DEMO_TEMPLATE.title, description: '', config: old, source: '', createdBy: admin.user.id });
    expect((await ctx.services.templates.ensureDemoTemplate()).config).toEqual(old);
  });
});
