import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { createTestApp, type TestContext } from '../test-support/test-app.js';
import { isLoopback } from './metrics.js';

describe('/metrics access', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(() => ctx.close());

  it('without CTP_METRICS_TOKEN serves loopback callers only', async () => {
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1'])
      expect((await ctx.app.inject({ url: '/metrics', remoteAddress })).statusCode, remoteAddress).toBe(200);
    for (const remoteAddress of ['192.0.2.9', '10.0.0.1', '::ffff:192.0.2.9', '2001:db8::1']) {
      const response = await ctx.app.inject({ url: '/metrics', remoteAddress });
      expect(response.statusCode, remoteAddress).toBe(403);
      expect(response.body).not.toContain('ctp_');
    }
  });

  it('with CTP_METRICS_TOKEN requires it as a bearer token, from anywhere', async () => {
    const app = await buildApp({ ...ctx.config, metricsToken: 'scrape-secret-123' }, ctx.services, false, { webDist: false });
    try {
      for (const authorization of [undefined, 'Bearer wrong', 'Bearer scrape-secret-12', 'scrape-secret-123', 'Basic scrape-secret-123']) {
        const response = await app.inject({ url: '/metrics', remoteAddress: '127.0.0.1', headers: authorization ? { authorization } : {} });
        expect(response.statusCode, authorization).toBe(401);
        expect(response.body).not.toContain('ctp_');
      }
      const ok = await app.inject({ url: '/metrics', remoteAddress: '192.0.2.9', headers: { authorization: 'Bearer scrape-secret-123' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('ctp_http_request_duration_seconds');
    } finally {
      await app.close();
    }
  });

  it('knows loopback addresses', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('127.9.8.7')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
    expect(isLoopback('::2')).toBe(false);
    expect(isLoopback('1127.0.0.1')).toBe(false);
  });
});
