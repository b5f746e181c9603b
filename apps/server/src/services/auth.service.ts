import { randomUUID } from 'node:crypto';
import type { TokenResponse, User } from '@ctp/contracts';
import { AppError, tooManyRequests, unauthorized } from '../errors.js';
import { presentUser } from '../presenters/staff.presenter.js';
import type { AuditRepository } from '../repositories/audit.repository.js';
import type { RefreshTokensRepository } from '../repositories/refresh-tokens.repository.js';
import type { UserRow, UsersRepository } from '../repositories/users.repository.js';
import { permissionsOf, type Actor } from '../policy/policy.js';
import type { AuditService } from './audit.service.js';
import { verifyAgainstDummy, verifyPassword } from './password.js';
import type { SessionsService } from './sessions.service.js';
import { hashRefreshToken, newRefreshToken, type TokenService } from './token.service.js';

export interface AuthLimits {
  refreshTtlSeconds: number;
  /** Failures of one account from one address before that pair is refused for the window. */
  maxFailuresPerPair: number;
  /** Failures from one address (any account) before that address is refused for the window. */
  maxFailuresPerAddress: number;
  /** Failures of one account (from anywhere) before its sign-ins are slowed down. */
  slowDownAfter: number;
  /** The first delay; it doubles with every further failure, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  windowSeconds: number;
}

// At most this many slowed-down sign-ins wait per address, and in all: the delay holds no
// thread, but each waiting request holds a connection and memory.
const MAX_WAITING_PER_ADDRESS = 2;
const MAX_WAITING = 500;

/** The delay before checking a password of an account that failed `failures` times. */
export function signInDelayMs(failures: number, limits: Pick<AuthLimits, 'slowDownAfter' | 'baseDelayMs' | 'maxDelayMs'>): number {
  if (failures < limits.slowDownAfter) return 0;
  return Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** Math.min(30, failures - limits.slowDownAfter));
}

export interface RequestContext {
  ip: string;
  requestId: string;
}

/** A session answer plus the refresh token that only travels in a cookie. */
export type Session = TokenResponse & { refreshToken: string; refreshExpiresAt: Date };

/** Logins, token refresh with rotation, logout, and who a token belongs to. */
export class AuthService {
  private readonly waiting = new Map<string, number>();
  private waitingTotal = 0;

  constructor(
    private readonly users: UsersRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly auditRepo: AuditRepository,
    private readonly audit: AuditService,
    private readonly tokens: TokenService,
    private readonly limits: AuthLimits,
    private readonly sessions: SessionsService,
  ) {}

  /**
   * Checks credentials. Brute force is kept slow without letting anyone lock an account out:
   * an (account, address) pair or an address that failed too often is refused for the window;
   * an account that failed often (from anywhere) is only slowed down, by a growing delay, so
   * its owner still signs in from a clean address. Failures are counted in the audit trail, so
   * the limits hold across instances.
   */
  async login(username: string, password: string, ctx: RequestContext): Promise<Session> {
    const since = new Date(Date.now() - this.limits.windowSeconds * 1000);
    const failures = await this.auditRepo.loginFailures(username, ctx.ip, since);
    if (failures.pair >= this.limits.maxFailuresPerPair || failures.address >= this.limits.maxFailuresPerAddress) {
      await this.recordLogin(username, null, 'denied', ctx, 429, { reason: 'rate_limited' });
      throw tooManyRequests(
        `Too many failed sign-ins from your address; try again in ${Math.ceil(this.limits.windowSeconds / 60)} minutes`,
      );
    }
    const delayMs = signInDelayMs(failures.account, this.limits);
    if (delayMs > 0) await this.slowDown(ctx.ip, delayMs, username, ctx);
    const user = await this.users.findByUsername(username);
    const valid = user ? await verifyPassword(password, user.passwordHash) : (await verifyAgainstDummy(password), false);
    if (!user || !valid || user.disabled) {
      const reason = !user ? 'unknown_user' : !valid ? 'bad_password' : 'disabled';
      await this.recordLogin(username, user ?? null, 'failure', ctx, 401, { reason, delayMs });
      // One message for every cause, so the answer does not reveal which accounts exist.
      throw new AppError(401, 'invalid_credentials', 'Wrong username or password, or the account is disabled');
    }
    await this.recordLogin(username, user, 'success', ctx, 200, { delayMs });
    return this.openSession(user, randomUUID());
  }

  /** Waits `delayMs` (a timer, no work), refusing an address that already has sign-ins waiting. */
  private async slowDown(ip: string, delayMs: number, username: string, ctx: RequestContext): Promise<void> {
    const mine = this.waiting.get(ip) ?? 0;
    if (mine >= MAX_WAITING_PER_ADDRESS || this.waitingTotal >= MAX_WAITING) {
      await this.recordLogin(username, null, 'denied', ctx, 429, { reason: 'too_many_waiting', delayMs });
      throw tooManyRequests('Sign-ins to this account are slowed down; wait for your previous attempt to finish');
    }
    this.waiting.set(ip, mine + 1);
    this.waitingTotal++;
    try {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    } finally {
      this.waitingTotal--;
      const left = (this.waiting.get(ip) ?? 1) - 1;
      if (left > 0) this.waiting.set(ip, left);
      else this.waiting.delete(ip);
    }
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

  /** Ends every session of the actor, on every device and instance (sign out everywhere). */
  async logoutAll(actor: Actor): Promise<void> {
    if (!(await this.users.update(actor.id, {}, true))) throw unauthorized('Account no longer exists');
    await this.sessions.ended(actor.id);
  }

  /** The signed-in user, from the session cache (no query on the common path). */
  async me(actor: Actor): Promise<{ user: User; permissions: string[] }> {
    const user = await this.sessions.user(actor.id);
    if (!user) throw unauthorized('Account no longer exists');
    return { user: presentUser(user), permissions: permissionsOf({ role: user.role as Actor['role'] }) };
  }

  /** Ends the session the refresh token belongs to. */
  async logout(token: string | undefined): Promise<void> {
    if (!token) return;
    const row = await this.refreshTokens.findByHash(hashRefreshToken(token));
    if (row) await this.refreshTokens.revokeFamily(row.familyId);
  }

  /**
   * The actor behind an access token, as the user is now (role from the session cache, not the
   * token); 401 if the token is bad, the account disabled, or its sessions ended since.
   */
  async authenticate(accessToken: string): Promise<Actor> {
    const claims = this.tokens.verifyAccessToken(accessToken);
    const user = await this.sessions.user(claims.sub);
    if (!user || user.disabled) throw unauthorized('Account is disabled or no longer exists');
    if (user.sessionEpoch !== claims.epoch) {
      throw new AppError(
        401,
        'session_ended',
        'This session was ended (password reset, role change or sign-out everywhere); sign in again',
      );
    }
    return { id: user.id, username: user.username, role: user.role as Actor['role'] };
  }

  private async openSession(user: UserRow, familyId: string): Promise<Session> {
    const { token, hash } = newRefreshToken();
    const refreshExpiresAt = new Date(Date.now() + this.limits.refreshTtlSeconds * 1000);
    await this.refreshTokens.insert({ userId: user.id, tokenHash: hash, familyId, expiresAt: refreshExpiresAt });
    const accessToken = this.tokens.issueAccessToken({
      sub: user.id,
      username: user.username,
      role: user.role as Actor['role'],
      epoch: user.sessionEpoch,
    });
    return {
      accessToken,
      expiresIn: this.tokens.accessTtlSeconds,
      user: presentUser(user),
      permissions: permissionsOf({ role: user.role as Actor['role'] }),
      refreshToken: token,
      refreshExpiresAt,
    };
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
