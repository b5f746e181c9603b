import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import {
  ClusterTokenError,
  DRIVER_AUDIENCE,
  MAX_TOKEN_TTL_SECONDS,
  assertClusterSecret,
  consoleAudience,
  issueClusterToken,
  verifyClusterToken,
} from './cluster-token.js';

const SECRET = 'a-cluster-secret-of-at-least-32-characters';
const claims = { host: 'hv-2', audience: DRIVER_AUDIENCE };

function reason(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof ClusterTokenError ? error.reason : `other: ${(error as Error).message}`;
  }
}

describe('cluster tokens', () => {
  it('accepts a fresh token for its host and audience', () => {
    const token = issueClusterToken(SECRET, claims);
    expect(reason(() => verifyClusterToken(SECRET, token, claims))).toBeUndefined();
    // Two tokens issued at once still differ (nonce).
    expect(issueClusterToken(SECRET, claims)).not.toBe(token);
  });

  it('refuses an expired token, and never lives longer than a minute', () => {
    const now = Date.now();
    const token = issueClusterToken(SECRET, claims, 10, now);
    expect(reason(() => verifyClusterToken(SECRET, token, claims, now + 9_000))).toBeUndefined();
    expect(reason(() => verifyClusterToken(SECRET, token, claims, now + 10_000))).toBe('expired');
    const long = issueClusterToken(SECRET, claims, 3600, now);
    expect(reason(() => verifyClusterToken(SECRET, long, claims, now + (MAX_TOKEN_TTL_SECONDS - 1) * 1000))).toBeUndefined();
    expect(reason(() => verifyClusterToken(SECRET, long, claims, now + MAX_TOKEN_TTL_SECONDS * 1000))).toBe('expired');
    // Issued by a clock far ahead: refused, else it would outlive the limit here.
    const future = issueClusterToken(SECRET, claims, 30, now + 10 * 60_000);
    expect(reason(() => verifyClusterToken(SECRET, future, claims, now))).toBe('expired');
  });

  it('refuses a token for another host or another audience', () => {
    const token = issueClusterToken(SECRET, claims);
    expect(reason(() => verifyClusterToken(SECRET, token, { host: 'hv-3', audience: DRIVER_AUDIENCE }))).toBe('host');
    expect(reason(() => verifyClusterToken(SECRET, token, { host: 'hv-2', audience: consoleAudience('l1-vm', 'serial') }))).toBe(
      'audience',
    );
    const console = issueClusterToken(SECRET, { host: 'hv-2', audience: consoleAudience('l1-vm', 'serial') });
    expect(reason(() => verifyClusterToken(SECRET, console, { host: 'hv-2', audience: consoleAudience('l1-vm', 'vnc') }))).toBe('audience');
    expect(reason(() => verifyClusterToken(SECRET, console, { host: 'hv-2', audience: consoleAudience('l2-vm', 'serial') }))).toBe(
      'audience',
    );
  });

  it('refuses a token signed with another secret, tampered with, or malformed', () => {
    const token = issueClusterToken(SECRET, claims);
    expect(reason(() => verifyClusterToken(`${SECRET}-other`, token, claims))).toBe('signature');
    const [body, signature] = token.split('.') as [string, string];
    // Rewritten to another host, keeping the signature.
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, h: 'hv-3' })).toString('base64url');
    expect(reason(() => verifyClusterToken(SECRET, `${forged}.${signature}`, { host: 'hv-3', audience: DRIVER_AUDIENCE }))).toBe(
      'signature',
    );
    const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    expect(reason(() => verifyClusterToken(SECRET, `${body}.${flipped}`, claims))).toBe('signature');
    expect(reason(() => verifyClusterToken(SECRET, `${body}.`, claims))).toBe('malformed');
    expect(reason(() => verifyClusterToken(SECRET, 'garbage', claims))).toBe('malformed');
    expect(reason(() => verifyClusterToken(SECRET, `${body}.${signature}.x`, claims))).toBe('malformed');
  });

  it('needs a secret of at least 32 characters, with a clear message', () => {
    expect(() => assertClusterSecret(undefined, 'when CTP_AGENT_PORT is set')).toThrow(/CTP_CLUSTER_SECRET.*at least 32.*CTP_AGENT_PORT/);
    expect(() => assertClusterSecret('short', 'to call another host')).toThrow(/CTP_CLUSTER_SECRET/);
    expect(() => issueClusterToken('short', claims)).toThrow(/CTP_CLUSTER_SECRET/);
    expect(assertClusterSecret(SECRET, 'x')).toBe(SECRET);
  });

  it('reads CTP_CLUSTER_SECRET, CTP_AGENT_PORT and CTP_AGENT_HOST', () => {
    const config = loadConfig({ CTP_CLUSTER_SECRET: SECRET, CTP_AGENT_PORT: '7070', CTP_AGENT_HOST: '10.0.0.2' });
    expect(config).toMatchObject({ clusterSecret: SECRET, agentPort: 7070, agentHost: '10.0.0.2' });
    expect(loadConfig({})).toMatchObject({ clusterSecret: undefined, agentPort: undefined, agentHost: '0.0.0.0' });
    expect(() => loadConfig({ CTP_AGENT_PORT: '70000' })).toThrow(/CTP_AGENT_PORT/);
    expect(() => loadConfig({ CTP_AGENT_PORT: 'x' })).toThrow(/CTP_AGENT_PORT/);
  });
});
