import { describe, expect, it } from 'vitest';
import { isValidName } from './index.js';

describe('isValidName', () => {
  it('accepts names safe in paths and argv, refuses the rest', () => {
    expect(isValidName('lab-1a2b.attacker')).toBe(true);
    expect(isValidName('../etc')).toBe(false);
    expect(isValidName('-rf')).toBe(false);
    expect(isValidName('a b')).toBe(false);
    expect(isValidName('x'.repeat(64))).toBe(false);
  });
});
