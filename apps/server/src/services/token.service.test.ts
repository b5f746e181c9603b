import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors.js';
import { hashRefreshToken, loadOrCreateJwtSecret, newRefreshToken, TokenService } from './token.service.js';

const secret = 'a-secret-of-at-least-32-characters-long';
const claims = { sub: '11111111-1111-4111-8111-111111111111', username: 'alice', role: 'student' as const, epoch: 0 };

/** A JWT signed by hand, so tests can make the tokens the service must refuse. */
function jwt(header: { alg: string; typ?: string }, payload: object, key = secret): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64(header)}.${b64(payload)}`;
  const hash = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${body}.${createHmac(hash, key).update(body).digest('base64url')}`;
}

/** The AppError `fn` throws. */
function failure(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('did not throw');
}

describe('access tokens', () => {
  const tokens = new TokenService(secret, 900);
  const now = () => Math.floor(Date.now() / 1000);

  it('round-trips exactly the claims, and expires after its lifetime', () => {
    const token = tokens.issueAccessToken({ ...claims, extra: 'dropped' } as typeof claims);
    const verified = tokens.verifyAccessToken(token);
    expect(verified).toMatchObject(claims);
    expect(verified).not.toHaveProperty('extra');
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(900);
    expect(tokens.accessTtlSeconds).toBe(900);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
  });

  it('refuses an expired token as expired', () => {
    vi.useFakeTimers();
    try {
      const token = tokens.issueAccessToken(claims);
      vi.setSystemTime(Date.now() + 901_000);
      expect(failure(() => tokens.verifyAccessToken(token))).toMatchObject({
        status: 401,
        code: 'token_expired',
        message: 'Access token has expired',
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses tokens signed with another key, with alg none or another algorithm, or without a subject', () => {
    const forged = jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now(), exp: now() + 60 }, 'another-secret-of-32-characters-or-more');
    expect(failure(() => tokens.verifyAccessToken(forged))).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(failure(() => tokens.verifyAccessToken(forged)).message).toMatch(/^Access token is invalid: /);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: now() + 60 })).toString('base64url')}.`;
    expect(failure(() => tokens.verifyAccessToken(none))).toMatchObject({ status: 401, code: 'invalid_token' });
    // Correctly signed with the right key, but with another algorithm than the pinned HS256.
    const hs512 = jwt({ alg: 'HS512', typ: 'JWT' }, { ...claims, iat: now(), exp: now() + 60 });
    expect(failure(() => tokens.verifyAccessToken(hs512))).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(tokens.verifyAccessToken(jwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now(), exp: now() + 60 }))).toMatchObject(claims);
    const noSubject = jwt({ alg: 'HS256', typ: 'JWT' }, { username: 'x', role: 'admin', iat: now(), exp: now() + 60 });
    expect(failure(() => tokens.verifyAccessToken(noSubject))).toMatchObject({
      status: 401,
      code: 'invalid_token',
      message: 'Access token has no subject',
    });
    const numericSubject = jwt({ alg: 'HS256', typ: 'JWT' }, { sub: 42, iat: now(), exp: now() + 60 });
    expect(failure(() => tokens.verifyAccessToken(numericSubject)).message).toBe('Access token has no subject');
    expect(failure(() => tokens.verifyAccessToken('not-a-token'))).toMatchObject({ status: 401, code: 'invalid_token' });
  });
});

describe('refresh tokens', () => {
  it('are random, and stored only as their SHA-256', () => {
    const a = newRefreshToken();
    const b = newRefreshToken();
    expect(a.token).not.toBe(b.token);
    expect(Buffer.from(a.token, 'base64url')).toHaveLength(32);
    expect(a.hash).toBe(createHash('sha256').update(a.token).digest('hex'));
    expect(hashRefreshToken(a.token)).toBe(a.hash);
    expect(a.hash).not.toContain(a.token);
  });
});

describe('the JWT secret', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctp-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes a configured secret of 32 characters or more, and refuses a shorter one', () => {
    expect(loadOrCreateJwtSecret('x'.repeat(32), dir)).toBe('x'.repeat(32));
    expect(() => loadOrCreateJwtSecret('x'.repeat(31), dir)).toThrow('CTP_JWT_SECRET must be at least 32 characters');
  });

  it('otherwise generates one once, private to the owner, and keeps it', () => {
    // Its directory is made when missing, parents included.
    const data = path.join(dir, 'data', 'nested');
    const first = loadOrCreateJwtSecret(undefined, data);
    expect(first.length).toBeGreaterThanOrEqual(64);
    const file = path.join(data, 'jwt-secret');
    expect(readFileSync(file, 'utf8')).toBe(`${first}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateJwtSecret(undefined, data)).toBe(first);
    writeFileSync(file, '  kept-secret  \n');
    expect(loadOrCreateJwtSecret(undefined, data)).toBe('kept-secret');
  });
});
