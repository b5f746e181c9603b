import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { resetDatabase } from '../test-support/test-database.js';

const BROKEN_YAML = `version: 1
title: Broken lab
networks:
  - name: lan
    cidr: 10.0.0.0/24
vms:
  - name: attacker
    image: demo-attacker
    nics:
      - network: lan
        address: 10.0.0.10
  - name: target
    image: no-such-image
    nics:
      - network: dmz
  - name: attacker
    image: demo-target
    nics:
      - network: lan
        address: 192.168.1.5
`;

describe('templates', () => {
  let ctx: TestContext;
  let teacher: Awaited<ReturnType<typeof signedIn>>;
  let student: Awaited<ReturnType<typeof signedIn>>;
  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
  });
  afterAll(() => ctx.close());
  beforeEach(async () => {
    await resetDatabase();
    teacher = await signedIn(ctx, 'instructor');
    student = await signedIn(ctx, 'student');
  });

  const create = (payload: object | string, contentType = 'application/json') =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...teacher.headers, 'content-type': contentType },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('refuses a broken template listing every problem with its path and YAML line, writing nothing', async () => {
    const response = await create(BROKEN_YAML, 'application/yaml');
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.code).toBe('invalid_template');
    expect(error.details).toEqual([
      { field: 'vms[1].image', message: 'unknown image "no-such-image"', line: 13 },
      { field: 'vms[1].nics[0].network', message: 'unknown network "dmz"', line: 15 },
      { field: 'vms[2].name', message: 'duplicate VM "attacker"', line: 16 },
      { field: 'vms[2].nics[0].address', message: '192.168.1.5 is outside network "lan"', line: 20 },
    ]);
    expect(error.message).toContain('vms[1].nics[0].network: unknown network "dmz"');
    expect((await ctx.services.repositories.templates.list({ limit: 10, offset: 0 })).total).toBe(0);
  });

  it('names schema problems by path: missing, unknown and mistyped fields', async () => {
    const response = await create({
      config: {
        version: 1,
        title: 'x',
        networks: [{ name: 'lan', cidr: 'nope' }],
        vms: [{ name: 'a', image: 'demo-target', nics: [], cpus: 'two', colour: 'red' }],
      },
    });
    expect(response.statusCode).toBe(400);
    const fields = response.json().error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['networks[0].cidr', 'vms[0].cpus', 'vms[0].colour']));
    const yamlError = await create('version: 1\ntitle: [unclosed', 'application/yaml');
    expect(yamlError.statusCode).toBe(400);
    expect(yamlError.json().error.message).toMatch(/not valid YAML/);
  });

  it('creates from YAML, versions updates, publishes, archives and exports; running labs keep their version', async () => {
    const created = await create(stringify(DEMO_TEMPLATE), 'application/yaml');
    expect(created.statusCode, created.body).toBe(201);
    const template = created.json();
    expect(template).toMatchObject({ title: 'Network basics', status: 'draft', version: 1, ownerId: teacher.user.id });
    // Students do not see drafts.
    expect((await ctx.app.inject({ url: `/api/v1/templates/${template.id}`, headers: student.headers })).statusCode).toBe(404);
    expect((await ctx.app.inject({ url: '/api/v1/templates', headers: student.headers })).json().total).toBe(0);
    const published = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${template.id}/publish`, headers: teacher.headers });
    expect(published.json().status).toBe('published');
    expect((await ctx.app.inject({ url: '/api/v1/templates', headers: student.headers })).json().total).toBe(1);

    const lab = (
      await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers: student.headers, payload: { templateId: template.id } })
    ).json();
    const changed = { ...DEMO_TEMPLATE, title: 'Network basics 2', vms: [DEMO_TEMPLATE.vms[0]!], inject: [] };
    const updated = await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/templates/${template.id}`,
      headers: teacher.headers,
      payload: { config: changed },
    });
    expect(updated.json()).toMatchObject({ version: 2, title: 'Network basics 2' });
    const running = await waitForLab(ctx, student.headers, lab.id, (l) => l.status === 'running');
    expect(running.templateVersion).toBe(1);
    expect(running.vms.map((vm) => vm.name)).toEqual(['attacker', 'target']);

    // The source holds settings, hidden VMs and answers: students may not export it.
    const studentExport = await ctx.app.inject({ url: `/api/v1/templates/${template.id}/export`, headers: student.headers });
    expect(studentExport.statusCode).toBe(403);
    const exported = await ctx.app.inject({ url: `/api/v1/templates/${template.id}/export`, headers: teacher.headers });
    expect(exported.headers['content-type']).toMatch(/application\/yaml/);
    expect(exported.body).toContain('title: Network basics 2');
    // An uploaded YAML comes back as written: comments and key order kept.
    const commented = `# our web lab\n${stringify(DEMO_TEMPLATE)}`;
    await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/templates/${template.id}`,
      headers: { ...teacher.headers, 'content-type': 'application/yaml' },
      payload: commented,
    });
    expect((await ctx.app.inject({ url: `/api/v1/templates/${template.id}/export`, headers: teacher.headers })).body).toBe(commented);
    const archived = await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${template.id}/archive`, headers: teacher.headers });
    expect(archived.json().status).toBe('archived');
    const refused = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/labs',
      headers: student.headers,
      payload: { templateId: template.id },
    });
    expect(refused.statusCode).toBe(404);
  });

  it("lets only its owner or an admin change an instructor's template", async () => {
    const template = (await create({ config: DEMO_TEMPLATE })).json();
    const other = await signedIn(ctx, 'instructor');
    const admin = await signedIn(ctx, 'admin');
    expect(
      (
        await ctx.app.inject({
          method: 'PUT',
          url: `/api/v1/templates/${template.id}`,
          headers: other.headers,
          payload: { config: DEMO_TEMPLATE },
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await ctx.app.inject({
          method: 'PUT',
          url: `/api/v1/templates/${template.id}`,
          headers: admin.headers,
          payload: { config: DEMO_TEMPLATE },
        })
      ).statusCode,
    ).toBe(200);
  });

  it('publishes the template format as JSON Schema', async () => {
    const schema = (await ctx.app.inject('/api/v1/templates/schema')).json();
    expect(schema.title).toBe('Lab template');
    expect(schema.required).toEqual(expect.arrayContaining(['version', 'title', 'networks', 'vms']));
  });
});
