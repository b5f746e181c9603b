import { describe, expect, it } from 'vitest';
import {
  changePayload,
  parseChange,
  refreshTokenVerdict,
  sessionVerdict,
  signInDelayMs,
  signInRefused,
  WaitingRoom,
} from './session-rules.js';

// The session rules without a database. The same rules through HTTP and PostgreSQL:
// auth.routes.test.ts (rotation, reuse), auth.lockout.test.ts (throttling),
// sessions.service.test.ts and revocation.test.ts (epochs, announcements).

describe('sign-in throttling rules', () => {
  const limits = { maxFailuresPerPair: 3, maxFailuresPerAddress: 10 };

  it('refuses a pair or an address at its limit, not below', () => {
    expect(signInRefused({ pair: 2, address: 9 }, limits)).toBe(false);
    expect(signInRefused({ pair: 3, address: 0 }, limits)).toBe(true);
    expect(signInRefused({ pair: 4, address: 4 }, limits)).toBe(true);
    expect(signInRefused({ pair: 0, address: 10 }, limits)).toBe(true);
    expect(signInRefused({ pair: 0, address: 11 }, limits)).toBe(true);
    expect(signInRefused({ pair: 0, address: 0 }, limits)).toBe(false);
  });

  it('slows an account down from its threshold on, doubling, up to the cap', () => {
    const delays = { slowDownAfter: 3, baseDelayMs: 20, maxDelayMs: 1000 };
    expect([0, 2, 3, 4, 5, 8, 9, 10, 1000].map((n) => signInDelayMs(n, delays))).toEqual([0, 0, 20, 40, 80, 640, 1000, 1000, 1000]);
    // The exponent is bounded, so a huge count never overflows to Infinity or NaN.
    expect(signInDelayMs(1e9, { slowDownAfter: 0, baseDelayMs: 1, maxDelayMs: 2 ** 40 })).toBe(2 ** 30);
    expect(signInDelayMs(31, { slowDownAfter: 0, baseDelayMs: 1, maxDelayMs: 2 ** 40 })).toBe(2 ** 30);
    expect(signInDelayMs(29, { slowDownAfter: 0, baseDelayMs: 1, maxDelayMs: 2 ** 40 })).toBe(2 ** 29);
  });

  it('lets a few sign-ins per address and in all wait, and refuses the rest until one leaves', () => {
    const room = new WaitingRoom(2, 3);
    expect([room.enter('a'), room.enter('a'), room.enter('a')]).toEqual([true, true, false]);
    expect([room.waiting('a'), room.waitingTotal]).toEqual([2, 2]);
    expect(room.enter('b')).toBe(true);
    // Three wait in all: a fresh address is refused too.
    expect(room.enter('c')).toBe(false);
    expect([room.waiting('b'), room.waiting('c'), room.waitingTotal]).toEqual([1, 0, 3]);
    room.leave('a');
    expect([room.waiting('a'), room.waitingTotal]).toEqual([1, 2]);
    expect(room.enter('c')).toBe(true);
    room.leave('a');
    room.leave('b');
    room.leave('c');
    expect([room.waiting('a'), room.waiting('b'), room.waiting('c'), room.waitingTotal]).toEqual([0, 0, 0, 0]);
    // Addresses whose sign-ins all left are forgotten: memory stays bounded by what waits now.
    expect(room.addresses).toBe(0);
    expect([room.enter('a'), room.enter('a')]).toEqual([true, true]);
  });
});

describe('refresh token rotation rules', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  const later = new Date(now.getTime() + 1000);
  const row = (over: Partial<Parameters<typeof refreshTokenVerdict>[0] & object> = {}) => ({
    revokedAt: null,
    usedAt: null,
    expiresAt: later,
    ...over,
  });

  it('rotates a live, unused token', () => {
    expect(refreshTokenVerdict(row(), now)).toBe('usable');
  });

  it('refuses an unknown, revoked or expired token (expired at its exact expiry)', () => {
    expect(refreshTokenVerdict(undefined, now)).toBe('invalid');
    expect(refreshTokenVerdict(row({ revokedAt: now }), now)).toBe('invalid');
    expect(refreshTokenVerdict(row({ expiresAt: now }), now)).toBe('invalid');
    expect(refreshTokenVerdict(row({ expiresAt: new Date(now.getTime() - 1) }), now)).toBe('invalid');
    expect(refreshTokenVerdict(row({ expiresAt: new Date(now.getTime() + 1) }), now)).toBe('usable');
    // Revoked wins over spent: a revoked family's replay is simply refused.
    expect(refreshTokenVerdict(row({ revokedAt: now, usedAt: now }), now)).toBe('invalid');
  });

  it('calls a used token coming back a replay', () => {
    expect(refreshTokenVerdict(row({ usedAt: now }), now)).toBe('spent');
  });
});

describe('session epochs', () => {
  it('keeps a session of the current epoch, ends one of an older or newer epoch, and drops a gone or disabled user', () => {
    expect(sessionVerdict({ disabled: false, sessionEpoch: 3 }, 3)).toBe('current');
    expect(sessionVerdict({ disabled: false, sessionEpoch: 4 }, 3)).toBe('ended');
    expect(sessionVerdict({ disabled: false, sessionEpoch: 3 }, 4)).toBe('ended');
    expect(sessionVerdict({ disabled: true, sessionEpoch: 3 }, 3)).toBe('gone');
    expect(sessionVerdict({ disabled: true, sessionEpoch: 4 }, 3)).toBe('gone');
    expect(sessionVerdict(undefined, 0)).toBe('gone');
  });

  it('announces user and lab changes in a form every instance reads back', () => {
    expect(changePayload({ kind: 'user', id: 'abc' })).toBe('u:abc');
    expect(changePayload({ kind: 'lab', id: 'def' })).toBe('l:def');
    expect(parseChange('u:abc')).toEqual({ kind: 'user', id: 'abc' });
    expect(parseChange('l:def')).toEqual({ kind: 'lab', id: 'def' });
    expect(parseChange('x:abc')).toBeUndefined();
    expect(parseChange('uabc')).toBeUndefined();
    expect(parseChange('')).toBeUndefined();
    const id = '0f8fad5b-d9cb-469f-a165-70867728950e';
    for (const change of [
      { kind: 'user', id },
      { kind: 'lab', id },
    ] as const)
      expect(parseChange(changePayload(change))).toEqual(change);
  });
});
