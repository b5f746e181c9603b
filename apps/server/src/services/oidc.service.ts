import { createHmac, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Role } from '@ctp/contracts';
import type { OidcConfig } from '../config.js';
import { AppError } from '../errors.js';
import type { IdentitiesRepository } from '../repositories/identities.repository.js';
import type { UserRow, UsersRepository } from '../repositories/users.repository.js';
import type { AuditService } from './audit.service.js';
import type { AuthService, RequestContext, Session } from './auth.service.js';
import type { SessionsService } from './sessions.service.js';

/** How long a started sign-in may take at the provider. */
export const SIGN_IN_TTL_SECONDS = 10 * 60;

/** Stored instead of a password hash: no password ever verifies against it. */
export const NO_LOCAL_PASSWORD = '!sso';

/** What a started sign-in keeps in the browser (signed, httpOnly) until the provider sends it back. */
interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  expiresAt: number;
}

type Claims = Record<string, unknown>;

/** The value at a dotted path of the claims (`realm_access.roles`), or the claim of that exact name. */
function claimAt(claims: Claims, path: string): unknown {
  if (path in claims) return claims[path];
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Claims)[key] : undefined), claims);
}

/** The role the provider's claims give: admin before instructor, student by default. */
export function roleFromClaims(claims: Claims, settings: Pick<OidcConfig, 'roleClaim' | 'adminValues' | 'instructorValues'>): Role {
  const raw = claimAt(claims, settings.roleClaim);
  const values = new Set(Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : []);
  if (settings.adminValues.some((v) => values.has(v))) return 'admin';
  if (settings.instructorValues.some((v) => values.has(v))) return 'instructor';
  return 'student';
}

/** A username our rules accept, from what the provider calls the user (it is not what links them). */
export function usernameFrom(claims: Claims): string {
  const given = [claims.preferred_username, typeof claims.email === 'string' ? claims.email.split('@')[0] : undefined, claims.name].find(
    (v): v is string => typeof v === 'string' && v.trim() !== '',
  );
  const cleaned = (given ?? '')
    .normalize('NFKD')
    .replace(/[^a-zA-Z0-9._-]+/g, '-')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 56);
  return cleaned.length >= 2 ? cleaned : 'user';
}

const failure = (status: number, code: string, message: string) => new AppError(status, code, message);

/** Whether an error is the provider not answering (as opposed to answering "no"). */
function unreachable(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    (error instanceof Error && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|fetch failed/.test(String(error.cause ?? error.message)))
  );
}

/**
 * Single sign-on through an OpenID Connect provider: authorization code with PKCE, state and
 * nonce. Users are linked by the provider's (issuer, subject), created at their first sign-in,
 * and get the role the provider's claims map to at every sign-in.
 */
export class OidcService {
  private configuration: Promise<oidc.Configuration> | undefined;
  private readonly stateKey: Buffer;

  constructor(
    private readonly settings: OidcConfig,
    private readonly identities: IdentitiesRepository,
    private readonly users: UsersRepository,
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
    signingSecret: string,
    private readonly log: (message: string, details: Record<string, unknown>) => void = () => {},
  ) {
    this.stateKey = createHmac('sha256', signingSecret).update('ctp-oidc-state').digest();
  }

  /** The provider's name on the sign-in button. */
  get name(): string {
    return this.settings.name;
  }

  /** The callback URL given to the provider. */
  redirectUri(requestOrigin: string): string {
    return this.settings.redirectUri ?? `${requestOrigin}/api/v1/auth/oidc/callback`;
  }

  /** Starts a sign-in: where to send the browser, and the signed value it must bring back (a cookie). */
  async begin(redirectUri: string): Promise<{ url: string; pending: string }> {
    const config = await this.discover();
    const pending: PendingSignIn = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
      redirectUri,
      expiresAt: Date.now() + SIGN_IN_TTL_SECONDS * 1000,
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes,
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, pending: this.seal(pending) };
  }

  /**
   * Finishes a sign-in from the provider's redirect: checks state, exchanges the code (with the
   * PKCE verifier), checks the ID token (issuer, audience, nonce, signature), then finds or
   * creates the user and opens a session. Every refusal is a 4xx with its reason, and audited.
   */
  async complete(callbackUrl: URL, pendingValue: string | undefined, ctx: RequestContext): Promise<Session> {
    const pending = this.unseal(pendingValue);
    if (!pending) {
      await this.record('auth.sso_login', null, 'failure', 400, ctx, { reason: 'no_pending_sign_in' });
      throw failure(400, 'sso_state_invalid', 'This sign-in was not started here, was already used, or took too long: start again');
    }
    const config = await this.discover().catch(async (error: unknown) => {
      await this.record('auth.sso_login', null, 'failure', 503, ctx, { reason: 'provider_unavailable' });
      throw error;
    });
    let claims: Claims;
    try {
      // The library derives the token request's redirect_uri from this URL: the one sent at the start.
      const answered = new URL(pending.redirectUri);
      answered.search = callbackUrl.search;
      const tokens = await oidc.authorizationCodeGrant(
        config,
        answered,
        { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true },
        { redirect_uri: pending.redirectUri },
      );
      claims = { ...tokens.claims()! };
      // Providers often put groups and e-mail only in the userinfo answer.
      if (config.serverMetadata().userinfo_endpoint) {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub as string);
        claims = {
          ...info,
          ...claims,
          [this.settings.roleClaim]: claimAt(claims, this.settings.roleClaim) ?? claimAt(info, this.settings.roleClaim),
        };
      }
    } catch (error) {
      if (unreachable(error)) {
        this.log('identity provider unreachable', { err: String(error) });
        await this.record('auth.sso_login', null, 'failure', 502, ctx, { reason: 'provider_unreachable' });
        throw failure(502, 'sso_provider_unreachable', 'The identity provider could not be reached; try again later');
      }
      // The library's codes and messages name the check that failed, never a token.
      const code =
        error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError
          ? error.error
          : ((error as { code?: string }).code ?? 'invalid');
      const description = error instanceof oidc.ResponseBodyError ? error.error_description : undefined;
      await this.record('auth.sso_login', null, 'failure', 400, ctx, { reason: code, message: (error as Error).message, description });
      throw failure(400, 'sso_failed', `The identity provider's answer was refused (${code}); start the sign-in again`);
    }
    return this.signIn(claims, ctx);
  }

  /** Finds, creates or updates the user behind verified claims, and opens a session. */
  private async signIn(claims: Claims, ctx: RequestContext): Promise<Session> {
    const issuer = this.settings.issuer;
    const subject = String(claims.sub);
    const role = roleFromClaims(claims, this.settings);
    let user = await this.identities.findUser(issuer, subject);
    if (!user) user = await this.createUser(claims, role, ctx);
    if (user.disabled) {
      await this.record('auth.sso_login', user, 'denied', 403, ctx, { reason: 'disabled', subject });
      throw failure(403, 'account_disabled', 'Your account on this platform is disabled; ask an administrator to enable it');
    }
    if (user.role !== role) user = await this.changeRole(user, role, ctx);
    await this.identities.touch(issuer, subject);
    await this.record('auth.sso_login', user, 'success', 200, ctx, { subject, role: user.role });
    return this.auth.startSession(user);
  }

  private async createUser(claims: Claims, role: Role, ctx: RequestContext): Promise<UserRow> {
    const identity = { issuer: this.settings.issuer, subject: String(claims.sub) };
    const email = claims.email_verified === true && typeof claims.email === 'string' ? claims.email : null;
    const base = usernameFrom(claims);
    for (let attempt = 1; attempt <= 20; attempt++) {
      const username = attempt === 1 ? base : `${base}-${attempt}`;
      if (await this.identities.usernameTaken(username)) continue;
      try {
        const created = await this.identities.createLinkedUser(identity, {
          username,
          email: email && !(await this.identities.emailTaken(email)) ? email : null,
          role,
          passwordHash: NO_LOCAL_PASSWORD,
        });
        // Linked meanwhile by a concurrent first sign-in: that user is the one.
        if (!created) return (await this.identities.findUser(identity.issuer, identity.subject))!;
        await this.record('user.create', created, 'success', 201, ctx, { source: 'oidc', subject: identity.subject, role });
        return created;
      } catch (error) {
        // The name or address was taken between the check and the insert: try the next name.
        if (!/23505|unique/.test(String((error as { cause?: unknown }).cause ?? '') + String((error as Error).message))) throw error;
      }
    }
    await this.record('user.create', null, 'failure', 409, ctx, { source: 'oidc', subject: identity.subject, reason: 'no_free_username' });
    throw failure(409, 'sso_username_taken', 'No free username could be found for this account; ask an administrator');
  }

  /** The provider decides roles: a change ends the user's other sessions (new epoch). */
  private async changeRole(user: UserRow, role: Role, ctx: RequestContext): Promise<UserRow> {
    if (user.role === 'admin' && (await this.users.countActiveAdmins()) <= 1) {
      // Never lock every administrator out because of a group change at the provider.
      await this.record('user.update', user, 'denied', 409, ctx, { source: 'oidc', reason: 'last_admin', from: user.role, to: role });
      return user;
    }
    const updated = (await this.users.update(user.id, { role }, true))!;
    await this.sessions.ended(user.id);
    await this.record('user.update', updated, 'success', 200, ctx, { source: 'oidc', from: user.role, to: role });
    return updated;
  }

  private discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    const insecure = new URL(issuer).protocol === 'http:';
    this.configuration ??= oidc
      .discovery(new URL(issuer), clientId, clientSecret, undefined, insecure ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((error: unknown) => {
        // Asked again at the next sign-in.
        this.configuration = undefined;
        this.log('identity provider discovery failed', { err: String(error) });
        throw failure(503, 'sso_unavailable', 'Single sign-on is unavailable: the identity provider could not be reached');
      });
    return this.configuration;
  }

  private seal(pending: PendingSignIn): string {
    const body = Buffer.from(JSON.stringify(pending)).toString('base64url');
    return `${body}.${createHmac('sha256', this.stateKey).update(body).digest('base64url')}`;
  }

  private unseal(value: string | undefined): PendingSignIn | undefined {
    const [body, mac] = (value ?? '').split('.');
    if (!body || !mac) return undefined;
    const expected = createHmac('sha256', this.stateKey).update(body).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const pending = JSON.parse(Buffer.from(body, 'base64url').toString()) as PendingSignIn;
      return pending.expiresAt > Date.now() ? pending : undefined;
    } catch {
      return undefined;
    }
  }

  private record(
    action: string,
    user: UserRow | null,
    outcome: 'success' | 'failure' | 'denied',
    statusCode: number,
    ctx: RequestContext,
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.record({
      actor: user ? { id: user.id, username: user.username } : null,
      action,
      targetType: 'user',
      targetId: user?.id ?? null,
      outcome,
      statusCode,
      ip: ctx.ip,
      requestId: ctx.requestId,
      details: { issuer: this.settings.issuer, ...details },
    });
  }
}
