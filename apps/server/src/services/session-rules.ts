import type { AuthLimits } from './auth.service.js';

// The session rules of sign-in, refresh and authentication, free of the database so that they
// are unit-tested (and mutation-tested) on their own: when sign-ins are refused or slowed down,
// which refresh tokens may rotate, when a session is over, and what a change announcement names.

/** The failed sign-ins counted over the window, per (account, address) pair, address and account. */
export interface LoginFailures {
  pair: number;
  address: number;
  account: number;
}

/** True when the (account, address) pair or the address failed too often: refused for the window. */
export function signInRefused(
  failures: Pick<LoginFailures, 'pair' | 'address'>,
  limits: Pick<AuthLimits, 'maxFailuresPerPair' | 'maxFailuresPerAddress'>,
): boolean {
  return failures.pair >= limits.maxFailuresPerPair || failures.address >= limits.maxFailuresPerAddress;
}

/** The delay before checking a password of an account that failed `failures` times. */
export function signInDelayMs(failures: number, limits: Pick<AuthLimits, 'slowDownAfter' | 'baseDelayMs' | 'maxDelayMs'>): number {
  if (failures < limits.slowDownAfter) return 0;
  return Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** Math.min(30, failures - limits.slowDownAfter));
}

/**
 * Slowed-down sign-ins waiting, per address and in all: each holds a connection and memory,
 * so an address (or everyone) past its cap is refused instead of queued.
 */
export class WaitingRoom {
  private readonly perAddress = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxPerAddress: number,
    private readonly maxTotal: number,
  ) {}

  /** Lets a sign-in from `ip` wait (true), or refuses it (false) when a cap is reached. */
  enter(ip: string): boolean {
    const mine = this.waiting(ip);
    if (mine >= this.maxPerAddress || this.total >= this.maxTotal) return false;
    this.perAddress.set(ip, mine + 1);
    this.total++;
    return true;
  }

  /** Ends a wait that `enter` let in. */
  leave(ip: string): void {
    this.total--;
    const left = this.waiting(ip) - 1;
    if (left > 0) this.perAddress.set(ip, left);
    else this.perAddress.delete(ip);
  }

  /** Sign-ins from `ip` waiting now. */
  waiting(ip: string): number {
    return this.perAddress.get(ip) ?? 0;
  }

  /** Addresses with sign-ins waiting now (an address is forgotten once none waits). */
  get addresses(): number {
    return this.perAddress.size;
  }

  /** Sign-ins waiting now, from every address. */
  get waitingTotal(): number {
    return this.total;
  }
}

/** What the rotation rule looks at in a stored refresh token. */
export interface RefreshTokenState {
  revokedAt: Date | null;
  expiresAt: Date;
  usedAt: Date | null;
}

/**
 * What a presented refresh token allows: `invalid` (unknown, revoked or expired), `spent`
 * (already rotated once: a replay, which ends its whole family), or `usable` (rotate it now).
 */
export function refreshTokenVerdict(row: RefreshTokenState | undefined, now: Date): 'invalid' | 'spent' | 'usable' {
  if (!row || row.revokedAt || row.expiresAt.getTime() <= now.getTime()) return 'invalid';
  if (row.usedAt) return 'spent';
  return 'usable';
}

/**
 * Whether a token or socket opened under session `epoch` still stands for the user as they are
 * now: `gone` (no such user, or disabled), `ended` (sessions ended since: password reset, role
 * change, sign-out everywhere) or `current`.
 */
export function sessionVerdict(user: { disabled: boolean; sessionEpoch: number } | undefined, epoch: number): 'gone' | 'ended' | 'current' {
  if (!user || user.disabled) return 'gone';
  if (user.sessionEpoch !== epoch) return 'ended';
  return 'current';
}

/** A change announced to every instance: a user's row (`u:<id>`) or who may see a lab (`l:<id>`). */
export type SessionChange = { kind: 'user'; id: string } | { kind: 'lab'; id: string };

/** The announcement payload of a change. */
export function changePayload(change: SessionChange): string {
  return `${change.kind === 'user' ? 'u' : 'l'}:${change.id}`;
}

/** The change an announcement names, or undefined for a payload that is not one. */
export function parseChange(payload: string): SessionChange | undefined {
  const [prefix, id] = [payload.slice(0, 2), payload.slice(2)];
  if (prefix === 'u:') return { kind: 'user', id };
  if (prefix === 'l:') return { kind: 'lab', id };
  return undefined;
}
