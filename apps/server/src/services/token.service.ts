import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import type { Role } from '@ctp/contracts';
import { AppError } from '../errors.js';

export interface AccessClaims {
  sub: string;
  username: string;
  role: Role;
  /** The user's session epoch when the token was issued; a later epoch refuses the token. */
  epoch: number;
}

// The algorithm is pinned on both sides: a token claiming `none` or RS256 is refused.
const ALGORITHM = 'HS256';

/** Signs and verifies short-lived access tokens; makes opaque refresh tokens. */
export class TokenService {
  private readonly sign: (claims: AccessClaims) => string;
  private readonly verify: (token: string) => AccessClaims & { exp: number };

  constructor(
    secret: string,
    readonly accessTtlSeconds: number,
  ) {
    this.sign = createSigner({ key: secret, algorithm: ALGORITHM, expiresIn: accessTtlSeconds * 1000 });
    this.verify = createVerifier({ key: secret, algorithms: [ALGORITHM], cache: false });
  }

  /** A signed access token for the user. */
  issueAccessToken(claims: AccessClaims): string {
    return this.sign({ sub: claims.sub, username: claims.username, role: claims.role, epoch: claims.epoch });
  }

  /** The claims of a valid access token; a 401 naming why otherwise. */
  verifyAccessToken(token: string): AccessClaims {
    try {
      const claims = this.verify(token);
      if (typeof claims.sub !== 'string') throw new AppError(401, 'invalid_token', 'Access token has no subject');
      if (!Number.isInteger(claims.epoch)) throw new AppError(401, 'invalid_token', 'Access token has no session epoch; sign in again');
      return claims;
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof TokenError && error.code === TokenError.codes.expired) {
        throw new AppError(401, 'token_expired', 'Access token has expired');
      }
      const why = error instanceof TokenError ? error.message : 'malformed token';
      throw new AppError(401, 'invalid_token', `Access token is invalid: ${why}`);
    }
  }
}

/** A new random refresh token and the hash under which it is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

/** SHA-256 of a refresh token: what the database keeps. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The JWT secret: from configuration, else generated once and kept in the data directory. */
export function loadOrCreateJwtSecret(configured: string | undefined, dataDir: string): string {
  if (configured) {
    if (configured.length < 32) throw new Error('CTP_JWT_SECRET must be at least 32 characters');
    return configured;
  }
  const file = path.join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}
