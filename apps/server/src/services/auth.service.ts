import { randomUUID } from 'node:crypto';
import type { TokenResponse } from '@ctp/contracts';
import { AppError, tooManyRequests, unauthorized } from '../errors.js';
import { presentUser } from '../presenters.js';
import type { AuditRepository } from '../repositories/audit.repository.js';
import type { RefreshTokensRepository } from '../repositories/refresh-tokens.repository.js';
import type { UserRow, UsersRepository } from '../repositories/users.repository.js';
import type { Actor } from '../policy/policy.js';
import type { AuditService } from './audit.service.js';
import { verifyAgainstDummy, verifyPassword } from './password.js';
import { hashRefreshToken, newRefreshToken, type TokenService } from './token.service.js';

export interface AuthLimits {
  refreshTtlSeconds: number;
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

export interface RequestContext {
  ip: string;
  requestId: string;
}

/** A session answer plus the refresh token that only travels in a cookie. */
export type Session = TokenResponse & { refreshToken: string; refreshExpiresAt: Date };

/** Logins, token refresh with rotation, logout, and who a token belongs to. */
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly auditRepo: AuditRepository,
    private readonly audit: AuditService,
    private readonly tokens: TokenService,
    private readonly limits: AuthLimits,
  ) {}

  /** Checks credentials (rate limited per account and per address) and opens a session. */
  async login(username: string, password: string, ctx: RequestContext): Promise<Session> {
    const since = new Date(Date.now() - this.limits.windowSeconds * 1000);
    const [byAccount, byAddress] = await Promise.all([
      this.auditRepo.countLoginFailures({ username }, since),
      this.auditRepo.countLoginFailures({ ip: ctx.ip }, since),
    ]);
    if (byAccount >= this.limits.maxFailuresPerAccount || byAddress >= this.limits.maxFailuresPerAddress) {
      await this.recordLogin(username, null, 'denied', ctx, 429, { reason: 'rate_limited' });
      throw tooManyRequests(`Too many failed sign-ins; try again in ${Math.ceil(this.limits.windowSeconds / 60)} minutes`);
    }
    const user = await this.users.findByUsername(username);
    const valid = user ? await verifyPassword(password, user.passwordHash) : (await verifyAgainstDummy(password), false);
    if (!user || !valid || user.disabled) {
      const reason = !user ? 'unknown_user' : !valid ? 'bad_password' : 'disabled';
      await this.recordLogin(username, user ?? null, 'failure', ctx, 401, { reason });
      // One message for every cause, so the answer does not reveal which accounts exist.
      throw new AppError(401, 'invalid_credentials', 'Wrong username or password, or the account is disabled');
    }
    await this.recordLogin(username, user, 'success', ctx, 200);
    return this.openSession(user, randomUUID());
  }

  /** Rotates a refresh token: the old one is spent, a reused one revokes its whole family. */
  async refresh(token: string | undefined): Promise<Session> {
    if (!token) throw unauthorized('No refresh token');
    const row = await this.refreshTokens.findByHash(hashRefreshToken(token));
    if (!row || row.revokedAt || row.expiresAt.getTime() <= Date.now()) throw unauthorized('Refresh token is invalid or expired');
    if (row.usedAt || !(await this.refreshTokens.markUsed(row.id))) {
      // A spent token coming back means it was stolen or replayed: end that session everywhere.
      await this.refreshTokens.revokeFamily(row.familyId);
      await this.audit.record({ action: 'auth.refresh_reuse', targetType: 'user', targetId: row.userId, outcome: 'denied' });
      throw unauthorized('Refresh token was already used; the session has been ended');
    }
    const user = await this.users.findById(row.userId);
    if (!user || user.disabled) throw unauthorized('Account is disabled');
    return this.openSession(user, row.familyId);
  }

  /** Ends the session the refresh token belongs to. */
  async logout(token: string | undefined): Promise<void> {
    if (!token) return;
    const row = await this.refreshTokens.findByHash(hashRefreshToken(token));
    if (row) await this.refreshTokens.revokeFamily(row.familyId);
  }

  /** The actor behind an access token; 401 if the token is bad or the account disabled. */
  async authenticate(accessToken: string): Promise<{ actor: Actor; user: UserRow }> {
    const claims = this.tokens.verifyAccessToken(accessToken);
    const user = await this.users.findById(claims.sub);
    if (!user || user.disabled) throw unauthorized('Account is disabled or no longer exists');
    return { actor: { id: user.id, username: user.username, role: user.role as Actor['role'] }, user };
  }

  private async openSession(user: UserRow, familyId: string): Promise<Session> {
    const { token, hash } = newRefreshToken();
    const refreshExpiresAt = new Date(Date.now() + this.limits.refreshTtlSeconds * 1000);
    await this.refreshTokens.insert({ userId: user.id, tokenHash: hash, familyId, expiresAt: refreshExpiresAt });
    const accessToken = this.tokens.issueAccessToken({ sub: user.id, username: user.username, role: user.role as Actor['role'] });
    return { accessToken, expiresIn: this.tokens.accessTtlSeconds, user: presentUser(user), refreshToken: token, refreshExpiresAt };
  }

  private recordLogin(
    username: string,
    user: UserRow | null,
    outcome: 'success' | 'failure' | 'denied',
    ctx: RequestContext,
    statusCode: number,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    return this.audit.record({
      actor: user ? { id: user.id, username: user.username } : null,
      action: 'auth.login',
      targetType: 'user',
      // Lower-cased so that failures per account can be counted whatever the spelling.
      targetId: username.toLowerCase(),
      outcome,
      statusCode,
      ip: ctx.ip,
      requestId: ctx.requestId,
      details: { username, ...details },
    });
  }
}
