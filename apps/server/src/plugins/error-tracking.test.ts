import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, signedIn, type TestContext } from '../test-support/test-app.js';
import { flushErrorTracking, initErrorTracking, stopErrorTracking } from './error-tracking.js';

// The official SDK sends to a local endpoint speaking Sentry's envelope protocol.
describe('error tracking (SENTRY_DSN)', () => {
  const received: { url: string; body: string }[] = [];
  let endpoint: http.Server;
  let ctx: TestContext;

  beforeAll(async () => {
    endpoint = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks);
        received.push({
          url: request.url ?? '',
          body: (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString(),
        });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const port = (endpoint.address() as AddressInfo).port;
    expect(initErrorTracking(`http://0123456789abcdef@127.0.0.1:${port}/42`, { environment: 'test', release: 'ctp@test' })).toBe(true);
    ctx = await createTestApp();
  });

  afterAll(async () => {
    await ctx?.app.close();
    await stopErrorTracking();
    endpoint?.close();
  });

  it('reports a server fault with its route and request id, never a refusal, never a token', async () => {
    const admin = await signedIn(ctx, 'admin');
    ctx.driver.probe = async () => {
      throw new Error('hypervisor exploded');
    };
    const failed = await ctx.app.inject({ url: '/api/v1/system', headers: { ...admin.headers, 'x-request-id': 'req-sentry-1' } });
    expect(failed.statusCode).toBe(500);
    // A caller's mistakes are not the platform's errors.
    expect((await ctx.app.inject({ url: '/api/v1/labs/not-a-uuid', headers: admin.headers })).statusCode).toBe(400);
    expect((await ctx.app.inject({ url: '/api/v1/users' })).statusCode).toBe(401);
    await flushErrorTracking();

    const events = received.filter((r) => r.url.startsWith('/api/42/envelope/') && r.body.includes('"type":"event"'));
    expect(events).toHaveLength(1);
    const body = events[0]!.body;
    expect(body).toContain('hypervisor exploded');
    expect(body).toContain('"request_id":"req-sentry-1"');
    expect(body).toContain('"route":"/api/v1/system"');
    expect(body).toContain('"environment":"test"');
    expect(body).not.toContain(admin.token);
  });
});
