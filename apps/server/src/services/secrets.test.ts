import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveSecret, deriveSecrets, fillPlaceholders, loadOrCreateSecretsKey, redactSecrets, secretDigest } from './secrets.js';

const key = 'k'.repeat(40);
const labA = '11111111-1111-4111-8111-111111111111';
const labB = '22222222-2222-4222-8222-222222222222';

describe('per-lab secrets', () => {
  it('flags: CTP{32 hex} by default, stable per lab, different between labs and keys', () => {
    const flag = { name: 'flag', type: 'flag' as const };
    const a = deriveSecret(key, labA, flag);
    expect(a).toMatch(/^CTP\{[0-9a-f]{32}\}$/);
    expect(deriveSecret(key, labA, flag)).toBe(a);
    expect(deriveSecret(key, labB, flag)).not.toBe(a);
    expect(deriveSecret('x'.repeat(40), labA, flag)).not.toBe(a);
    expect(deriveSecret(key, labA, { ...flag, name: 'other' })).not.toBe(a);
  });

  it('flags in a given format', () => {
    expect(deriveSecret(key, labA, { name: 'f', type: 'flag', format: 'flag_<hex:8>-<hex:4>' })).toMatch(/^flag_[0-9a-f]{8}-[0-9a-f]{4}$/);
  });

  it('passwords and text of the given length; ports in range; words from the list', () => {
    expect(deriveSecret(key, labA, { name: 'p', type: 'password', length: 20 })).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(deriveSecret(key, labA, { name: 'p', type: 'password' })).toHaveLength(16);
    expect(deriveSecret(key, labA, { name: 't', type: 'text', length: 8 })).toMatch(/^[a-z]{8}$/);
    const ports = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const port = Number(deriveSecret(key, `lab-${i}`, { name: 'port', type: 'port', min: 2000, max: 2009 }));
      expect(port).toBeGreaterThanOrEqual(2000);
      expect(port).toBeLessThanOrEqual(2009);
      ports.add(port);
    }
    expect(ports.size).toBe(10);
    const words = ['red', 'green', 'blue'];
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(deriveSecret(key, `lab-${i}`, { name: 'w', type: 'word', words }));
    expect([...seen].sort()).toEqual(['blue', 'green', 'red']);
  });

  it('fills placeholders, leaving unknown names', () => {
    const values = deriveSecrets(key, labA, [{ name: 'flag', type: 'flag' }]);
    expect(fillPlaceholders('x {{flag}} {{ flag }} {{nope}}', values)).toBe(`x ${values.flag} ${values.flag} {{nope}}`);
  });

  it('digests and redacts', () => {
    expect(secretDigest(key, ' v ')).toBe(secretDigest(key, 'v'));
    expect(secretDigest(key, 'v')).not.toBe(secretDigest(key, 'w'));
    expect(redactSecrets('a SECRET b SECRET', ['SECRET'])).toBe('a [secret] b [secret]');
  });

  it('generates the platform key once into the data directory, or takes it from the environment', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ctp-key-'));
    const first = loadOrCreateSecretsKey(undefined, dir);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(loadOrCreateSecretsKey(undefined, dir)).toBe(first);
    expect(readFileSync(path.join(dir, 'secrets-key'), 'utf8').trim()).toBe(first);
    expect(loadOrCreateSecretsKey('e'.repeat(32), dir)).toBe('e'.repeat(32));
    expect(() => loadOrCreateSecretsKey('short', dir)).toThrow(/CTP_SECRETS_KEY/);
  });
});
