import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { loggerOptions, redactUrl } from './logger.js';

describe('request logs', () => {
  it('leave out single sign-on codes, state, tickets and tokens from logged URLs', async () => {
    let output = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output += chunk.toString();
        done();
      },
    });
    const options = loggerOptions('info') as object;
    const app = Fastify({ logger: { ...options, stream } });
    app.get('/api/v1/auth/oidc/callback', async () => 'ok');
    await app.inject({ url: '/api/v1/auth/oidc/callback?code=SECRET-CODE-1&state=SECRET-STATE-2&iss=https%3A%2F%2Fidp.example' });
    await app.close();
    expect(output).toContain('/api/v1/auth/oidc/callback?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fidp.example');
    expect(output).not.toContain('SECRET-CODE-1');
    expect(output).not.toContain('SECRET-STATE-2');
  });

  it('keeps other query parameters and plain URLs as they are', () => {
    expect(redactUrl('/api/v1/labs?limit=5&all=true')).toBe('/api/v1/labs?limit=5&all=true');
    expect(redactUrl('/api/v1/events/stream?ticket=abc&since=4')).toBe('/api/v1/events/stream?ticket=[redacted]&since=4');
    expect(redactUrl('/x?%74oken=abc')).toBe('/x?%74oken=[redacted]');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });
});
