import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestContext } from '../test-support/test-app.js';

describe('health', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(() => ctx.close());

  it('answers /healthz and /readyz with the database engine', async () => {
    expect((await ctx.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await ctx.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', database: process.env.DATABASE_URL ? 'postgres' : 'pglite' });
  });

  it('answers 503 when the database does not', async () => {
    const broken = { ...ctx.services, database: { ...ctx.services.database, ping: () => Promise.reject(new Error('down')) } };
    const { buildApp } = await import('../app.js');
    const app = await buildApp(ctx.config, broken, false, { webDist: false });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().status).toBe('not_ready');
    await app.close();
  });

  it('serves Prometheus metrics, with request timings and lab counts', async () => {
    await ctx.app.inject('/healthz');
    const response = await ctx.app.inject('/metrics');
    expect(response.headers['content-type']).toMatch(/text\/plain/);
    expect(response.body).toContain('ctp_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}');
    expect(response.body).toMatch(/ctp_labs_active \d+/);
    expect(response.body).toContain('ctp_process_cpu_seconds_total');
  });

  it('sets security headers and a request id on every answer', async () => {
    const response = await ctx.app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers['x-request-id']).toBe('abc-123');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });
});
