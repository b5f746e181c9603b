import { describe, expect, it } from 'vitest';
import { expiringSoon, timeLeft } from './countdown.js';

describe('countdown', () => {
  const now = Date.parse('2026-01-01T10:00:00Z');
  it('says how long is left, in hours or minutes and seconds', () => {
    expect(timeLeft('2026-01-01T11:05:30Z', now)).toBe('1 h 05 min');
    expect(timeLeft('2026-01-01T10:04:09Z', now)).toBe('4 min 09 s');
    expect(timeLeft('2026-01-01T09:59:00Z', now)).toBe('expired');
    expect(timeLeft(null, now)).toBe('no limit');
  });
  it('warns in the last minutes only', () => {
    expect(expiringSoon('2026-01-01T10:09:00Z', now)).toBe(true);
    expect(expiringSoon('2026-01-01T10:11:00Z', now)).toBe(false);
    expect(expiringSoon('2026-01-01T09:00:00Z', now)).toBe(false);
  });
});
