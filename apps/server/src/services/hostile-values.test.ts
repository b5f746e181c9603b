import { describe, expect, it } from 'vitest';
import { findHostileValue, LONE_SURROGATE, MAX_BODY_DEPTH } from './hostile-values.js';

const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: nested(depth - 1) });

describe('hostile values', () => {
  it('passes ordinary values of every kind', () => {
    expect(findHostileValue({ a: 'text 😀', b: [1, true, null, { c: 'd' }], e: 1.5 }, 'body')).toBeUndefined();
    expect(findHostileValue(undefined, 'body')).toBeUndefined();
    expect(findHostileValue('plain', 'body')).toBeUndefined();
  });

  it('names the path of a NUL byte in a value, an array item or a key', () => {
    expect(findHostileValue({ a: { b: 'x\u0000' } }, 'body')).toEqual({ field: 'body.a.b', message: 'must not contain NUL bytes' });
    expect(findHostileValue({ list: ['ok', 'n\u0000'] }, 'body')?.field).toBe('body.list[1]');
    expect(findHostileValue({ a: { 'k\u0000': 1 } }, 'body')?.field).toBe('body.a');
    expect(findHostileValue({ title: '\u0000' }, '')?.field).toBe('title');
    expect(findHostileValue(['\u0000'], '')?.field).toBe('[0]');
  });

  it('finds lone surrogates, high or low, but not pairs', () => {
    expect(findHostileValue({ a: 'x\ud800' }, 'q')?.message).toMatch(/lone surrogate/);
    expect(findHostileValue({ a: '\udc00x' }, 'q')?.message).toMatch(/lone surrogate/);
    expect(findHostileValue({ a: '\ud83d\ude00' }, 'q')).toBeUndefined();
    expect(LONE_SURROGATE.test('\ud800\ud800\udc00')).toBe(true);
    expect(findHostileValue({ ['\udc00']: 1 }, 'q')?.field).toBe('q');
  });

  it(`allows ${MAX_BODY_DEPTH} levels of nesting and refuses one more`, () => {
    expect(findHostileValue(nested(MAX_BODY_DEPTH), 'body')).toBeUndefined();
    const deep = findHostileValue(nested(MAX_BODY_DEPTH + 1), 'body');
    expect(deep?.message).toBe(`is nested more than ${MAX_BODY_DEPTH} levels deep`);
    expect(deep?.field).toBe(`body${'.a'.repeat(MAX_BODY_DEPTH)}`);
    expect(findHostileValue({ a: { b: 1 } }, 'p', 1)?.field).toBe('p.a');
    expect(findHostileValue({ a: 'x' }, 'p', 1)).toBeUndefined();
  });

  it('walks 100,000 levels without exhausting the stack', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findHostileValue(deep, 'body')?.message).toMatch(/nested/);
  });
});
