import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived tokens for the internal channel between the API and the hypervisor agents.
 *
 * A token is `base64url(JSON payload).base64url(HMAC-SHA256(secret, payload part))`. The payload
 * names the host the token is for and what it may do (its audience: `driver` for the RPC route,
 * `console:<vm>:<kind>` for one console), so a token captured on its way to one agent opens
 * nothing on another agent nor any other console, and it expires within a minute.
 */

/** The longest life a token may have: the channel is used at once, never stored. */
export const MAX_TOKEN_TTL_SECONDS = 60;
/** The shortest secret accepted: 32 characters of a random string are ≥ 128 bits for any sane alphabet. */
export const MIN_CLUSTER_SECRET_LENGTH = 32;

/** What a token asserts. */
export interface ClusterTokenClaims {
  /** The host (its registered name) the token may be presented to. */
  host: string;
  /** What it may do there. */
  audience: string;
}

interface Payload {
  h: string;
  a: string;
  /** Expiry, in milliseconds since the epoch. */
  e: number;
  /** A nonce, so two tokens issued in the same millisecond differ. */
  n: string;
}

/** The error the agent server answers 401 for: the reason goes to tests and logs, never to the caller. */
export class ClusterTokenError extends Error {
  constructor(readonly reason: 'malformed' | 'signature' | 'expired' | 'host' | 'audience') {
    super(`cluster token refused: ${reason}`);
    this.name = 'ClusterTokenError';
  }
}

/** Throws a startup error unless the cluster secret is set and long enough. */
export function assertClusterSecret(secret: string | undefined, why: string): string {
  if (!secret || secret.length < MIN_CLUSTER_SECRET_LENGTH)
    throw new Error(
      `CTP_CLUSTER_SECRET must be set to at least ${MIN_CLUSTER_SECRET_LENGTH} characters ${why} (e.g. \`openssl rand -hex 32\`, the same on the API and every agent)`,
    );
  return secret;
}

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** Issues a token for one host and audience, valid `ttlSeconds` (at most 60). */
export function issueClusterToken(secret: string, claims: ClusterTokenClaims, ttlSeconds = 30, now = Date.now()): string {
  assertClusterSecret(secret, 'to call another host');
  const ttl = Math.min(Math.max(ttlSeconds, 1), MAX_TOKEN_TTL_SECONDS);
  const payload: Payload = { h: claims.host, a: claims.audience, e: now + ttl * 1000, n: randomBytes(9).toString('base64url') };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${sign(secret, body).toString('base64url')}`;
}

/** Verifies a token for this host and audience (signature compared in constant time); throws ClusterTokenError. */
export function verifyClusterToken(secret: string, token: string, expected: ClusterTokenClaims, now = Date.now()): void {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new ClusterTokenError('malformed');
  const [body, signature] = parts as [string, string];
  const given = Buffer.from(signature, 'base64url');
  const wanted = sign(secret, body);
  // timingSafeEqual needs equal lengths; the length of a MAC is no secret.
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new ClusterTokenError('signature');
  let payload: Payload;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
  } catch {
    throw new ClusterTokenError('malformed');
  }
  if (typeof payload.e !== 'number' || typeof payload.h !== 'string' || typeof payload.a !== 'string')
    throw new ClusterTokenError('malformed');
  // A token from a clock ahead of ours by more than its maximum life is refused too.
  if (payload.e <= now || payload.e > now + MAX_TOKEN_TTL_SECONDS * 1000 + 5000) throw new ClusterTokenError('expired');
  if (payload.h !== expected.host) throw new ClusterTokenError('host');
  if (payload.a !== expected.audience) throw new ClusterTokenError('audience');
}

/** The audience of the RPC route. */
export const DRIVER_AUDIENCE = 'driver';

/** The audience of one VM's console of one kind. */
export function consoleAudience(driverName: string, kind: string): string {
  return `console:${driverName}:${kind}`;
}
