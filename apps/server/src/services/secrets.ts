import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TemplateSecret } from '@ctp/contracts';

export const DEFAULT_FLAG_FORMAT = 'CTP{<hex:32>}';
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const TEXT_ALPHABET = 'abcdefghijklmnopqrstuvwxyz';

/** The platform key secrets are derived from: `CTP_SECRETS_KEY`, or one generated once into the data directory. */
export function loadOrCreateSecretsKey(configured: string | undefined, dataDir: string): string {
  if (configured) {
    if (configured.length < 32) throw new Error('CTP_SECRETS_KEY must be at least 32 characters');
    return configured;
  }
  const file = path.join(dataDir, 'secrets-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(48).toString('base64url');
  writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/** An endless, deterministic byte stream: HMAC(key, labId \0 name \0 counter) blocks. */
function byteStream(key: string, labId: string, name: string): () => number {
  let block = Buffer.alloc(0);
  let offset = 0;
  let counter = 0;
  return () => {
    if (offset >= block.length) {
      block = createHmac('sha256', key).update(`${labId}\0${name}\0${counter++}`).digest();
      offset = 0;
    }
    return block[offset++]!;
  };
}

/** A uniform integer in [0, n) from the stream (rejection sampling, no modulo bias). */
function uniform(next: () => number, n: number): number {
  if (n <= 1) return 0;
  const bytes = Math.ceil(Math.log2(n) / 8) || 1;
  const range = 256 ** bytes;
  const limit = range - (range % n);
  for (;;) {
    let value = 0;
    for (let i = 0; i < bytes; i++) value = value * 256 + next();
    if (value < limit) return value % n;
  }
}

function pick(next: () => number, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[uniform(next, alphabet.length)];
  return out;
}

/** The value of one template secret for one lab: the same for the same key and lab, different between labs. */
export function deriveSecret(key: string, labId: string, secret: TemplateSecret): string {
  const next = byteStream(key, labId, secret.name);
  switch (secret.type) {
    case 'flag':
      return (secret.format ?? DEFAULT_FLAG_FORMAT).replace(/<hex:(\d{1,2})>/g, (_m, n: string) =>
        pick(next, '0123456789abcdef', Number(n)),
      );
    case 'password':
      return pick(next, PASSWORD_ALPHABET, secret.length ?? 16);
    case 'text':
      return pick(next, TEXT_ALPHABET, secret.length ?? 16);
    case 'port': {
      const min = secret.min ?? 1024;
      const max = secret.max ?? 65535;
      return String(min + uniform(next, max - min + 1));
    }
    case 'word': {
      const words = secret.words ?? [];
      return words[uniform(next, words.length)] ?? '';
    }
  }
}

/** Every secret of a template for one lab, by name. */
export function deriveSecrets(key: string, labId: string, secrets: readonly TemplateSecret[] = []): Record<string, string> {
  return Object.fromEntries(secrets.map((s) => [s.name, deriveSecret(key, labId, s)]));
}

/** Replaces `{{name}}` placeholders with the lab's secret values (unknown names are left as they are). */
export function fillPlaceholders(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{\s*([a-z][a-z0-9_]{0,31})\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
}

/** A digest to find a value among all labs' secrets without storing the value itself. */
export function secretDigest(key: string, value: string): string {
  return createHmac('sha256', key).update(`digest\0${value.trim()}`).digest('hex');
}

/** Replaces every occurrence of the given secret values in a text (e.g. a check's output) with `[secret]`. */
export function redactSecrets(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of values) if (value.length >= 3) out = out.split(value).join('[secret]');
  return out;
}
