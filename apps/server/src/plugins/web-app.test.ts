import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestContext } from '../test-support/test-app.js';

describe('the web app served by the API server', () => {
  let ctx: TestContext;
  const dist = mkdtempSync(path.join(tmpdir(), 'ctp-dist-'));
  beforeAll(async () => {
    mkdirSync(path.join(dist, 'assets'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(path.join(dist, 'assets', 'app-1234.js'), 'console.log(1)');
    ctx = await createTestApp({}, { webDist: dist });
  });
  afterAll(() => ctx.close());

  it('serves files, with long caching for hashed assets', async () => {
    const asset = await ctx.app.inject('/assets/app-1234.js');
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe('console.log(1)');
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('answers index.html for client routes asked by a browser', async () => {
    for (const url of ['/', '/labs/123', '/admin/users?x=1']) {
      const page = await ctx.app.inject({ url, headers: { accept: 'text/html' } });
      expect(page.statusCode, url).toBe(200);
      expect(page.body).toContain('<div id="root">');
      expect(page.headers['cache-control']).toBe('no-cache');
    }
  });

  it('keeps API 404s as JSON errors, and does not serve files outside dist', async () => {
    const api = await ctx.app.inject({ url: '/api/v1/nope', headers: { accept: 'text/html' } });
    expect(api.statusCode).toBe(404);
    expect(api.json().error.code).toBe('not_found');
    const escape = await ctx.app.inject({ url: '/../../etc/passwd', headers: { accept: '*/*' } });
    expect(escape.statusCode).toBe(404);
    expect(escape.body).not.toContain('root:');
    expect((await ctx.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
  });
});
