import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEMO_TEMPLATE } from '../services/template.service.js';
import type { VmSpec } from '@ctp/hypervisor';
import { waitForLab } from '../test-support/lab-helpers.js';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';

describe('template rules through the API', () => {
  let ctx: TestContext;
  let headers: Record<string, string>;
  beforeAll(async () => {
    ctx = await createTestApp({}, { background: true });
    headers = (await signedIn(ctx, 'instructor')).headers;
  });
  afterAll(() => ctx.close());

  const templateCount = async () => (await ctx.services.repositories.templates.list({ limit: 1, offset: 0 })).total;
  const withSettings = (settings: Record<string, string>) => ({
    ...DEMO_TEMPLATE,
    vms: [{ ...DEMO_TEMPLATE.vms[0]!, settings }, DEMO_TEMPLATE.vms[1]!],
  });
  const post = (config: object, yaml: boolean) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/templates',
      headers: { ...headers, 'content-type': yaml ? 'application/yaml' : 'application/json' },
      payload: yaml ? stringify(config) : JSON.stringify({ config }),
    });

  for (const yaml of [false, true]) {
    it(`refuses settings keys that would inject kernel arguments (${yaml ? 'YAML' : 'JSON'}), writing nothing`, async () => {
      const before = await templateCount();
      for (const key of ['x ctp.injected', 'y\nctp.newline', 'Z']) {
        const response = await post(withSettings({ [key]: '1' }), yaml);
        expect(response.statusCode, response.body).toBe(400);
        expect(response.json().error.details).toContainEqual(expect.objectContaining({ field: `vms[0].settings.${key}` }));
        if (yaml) expect(response.json().error.details[0].line).toEqual(expect.any(Number));
      }
      const badValue = await post(withSettings({ motd: 'a ctp.x=1' }), yaml);
      expect(badValue.statusCode).toBe(400);
      expect(badValue.json().error.details[0].field).toBe('vms[0].settings.motd');
      expect(await templateCount()).toBe(before);
    });
  }

  it('shows the same settings in the template view and in the export', async () => {
    const settings = { motd: 'hello', port: '4444', flag: 'CTF{same}' };
    for (const yaml of [false, true]) {
      const created = await post(withSettings(settings), yaml);
      expect(created.statusCode, created.body).toBe(201);
      const { id, config } = created.json();
      expect(config.vms[0].settings).toEqual(settings);
      const view = (await ctx.app.inject({ url: `/api/v1/templates/${id}`, headers })).json();
      const exported = parse((await ctx.app.inject({ url: `/api/v1/templates/${id}/export`, headers })).body);
      expect(view.config.vms[0].settings).toEqual(settings);
      expect(exported.vms[0].settings).toEqual(view.config.vms[0].settings);
    }
  });

  it('gives the guest plain settings on its kernel command line, never a secret', async () => {
    const settings = { motd: 'hello', port: '4444', flag: 'CTF{never-on-cmdline}', admin_password: 'pw-never-there' };
    const created = (await post(withSettings(settings), true)).json();
    await ctx.app.inject({ method: 'POST', url: `/api/v1/templates/${created.id}/publish`, headers });
    const specs: VmSpec[] = [];
    const createVm = ctx.driver.createVm.bind(ctx.driver);
    ctx.driver.createVm = async (spec) => {
      specs.push(spec);
      return createVm(spec);
    };
    try {
      const lab = await ctx.app.inject({ method: 'POST', url: '/api/v1/labs', headers, payload: { templateId: created.id } });
      expect(lab.statusCode, lab.body).toBe(202);
      await waitForLab(ctx, headers, lab.json().id, (l) => l.status === 'running');
    } finally {
      ctx.driver.createVm = createVm;
    }
    const attacker = specs.find((s) => s.name.endsWith('-attacker'))!;
    expect(attacker.kernelArgs!.split(' ')).toEqual(expect.arrayContaining(['ctp.hostname=attacker', 'ctp.motd=hello', 'ctp.port=4444']));
    for (const spec of specs) {
      expect(spec.kernelArgs).not.toContain('CTF{never-on-cmdline}');
      expect(spec.kernelArgs).not.toContain('pw-never-there');
      expect(spec.kernelArgs).not.toMatch(/ctp\.(flag|admin_password)=/);
    }
  });

  it('refuses image names that are JavaScript object keys', async () => {
    for (const image of ['constructor', '__proto__', 'toString']) {
      // One VM only: without the files the demo injects into `target`.
      const config = { ...DEMO_TEMPLATE, vms: [{ ...DEMO_TEMPLATE.vms[0]!, image }], inject: [] };
      const response = await post(config, true);
      expect(response.statusCode, image).toBe(400);
      expect(response.json().error.details).toEqual([
        expect.objectContaining({ field: 'vms[0].image', message: `unknown image "${image}"` }),
      ]);
    }
  });
});
