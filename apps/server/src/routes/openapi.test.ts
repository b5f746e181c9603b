import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestContext } from '../test-support/test-app.js';

describe('OpenAPI document', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(() => ctx.close());

  it('is served at /api/openapi.json, validates as OpenAPI 3 and lists every API route', async () => {
    const response = await ctx.app.inject('/api/openapi.json');
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toMatch(/^3\./);
    await SwaggerParser.validate(structuredClone(document));
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      )
      .sort();
    const served = ctx.app.registeredRoutes
      // OpenAPI cannot describe a WebSocket; @fastify/websocket hides those routes, and the
      // ticket route that hands out their URL documents them instead.
      .filter((r) => !r.websocket && (r.url.startsWith('/api/v1') || r.url === '/healthz' || r.url === '/readyz'))
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(documented).toEqual(served);
  });

  it('documents request bodies, error responses and bearer security', async () => {
    const document = (await ctx.app.inject('/api/openapi.json')).json();
    const createUser = document.paths['/api/v1/users'].post;
    expect(createUser.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['username', 'password', 'role']),
    );
    expect(Object.keys(createUser.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409']));
    expect(createUser.security).toEqual([{ bearerAuth: [] }]);
  });

  it('is browsable at /api/docs', async () => {
    const response = await ctx.app.inject('/api/docs/');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('swagger-ui');
  });
});
