import type { RefreshTokensRepository } from '../repositories/refresh-tokens.repository.js';
import type { TicketsRepository } from '../repositories/tickets.repository.js';
import type { UserRow, UsersRepository } from '../repositories/users.repository.js';
import type { Notifier } from '../db/notifier.js';
import { changePayload, parseChange, sessionVerdict } from './session-rules.js';

/** What authorization needs to know about a user, kept in memory (never the password hash). */
export type SessionUser = Omit<UserRow, 'passwordHash'>;

/** WebSocket close code: the user's sessions were ended (reset, disable, role change, logout-all). */
export const CLOSE_SESSION_ENDED = 4401;
/** WebSocket close code: the user may no longer see what the socket shows (removed, lab deleted). */
export const CLOSE_ACCESS_REVOKED = 4403;

/** An open WebSocket whose access is re-checked whenever its user or a lab changes. */
export interface WatchedSocket {
  userId: string;
  /** The session epoch the socket was opened under. */
  epoch: number;
  /** Whether the socket may stay open; `labId` names the lab whose access changed, if any. */
  recheck(user: SessionUser, labId: string | undefined): Promise<boolean>;
  close(code: number, reason: string): void;
}

// Enough for every active user of a large installation; the oldest entry makes room.
const MAX_CACHED_USERS = 20_000;

/**
 * Sessions across API instances: a per-instance cache of users (role, disabled, session epoch)
 * so that an authenticated request costs no query, kept right by NOTIFY on every instance; and
 * the open WebSockets, re-checked and closed on every instance when their user or lab changes.
 */
export class SessionsService {
  private readonly cache = new Map<string, SessionUser>();
  private readonly sockets = new Set<WatchedSocket>();
  // Bumped by every invalidation, so a load that raced with one is not cached.
  private generation = 0;
  // While LISTEN is down, changes can be missed: nothing is cached until it is back.
  private listening = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly users: UsersRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly tickets: TicketsRepository,
    private readonly notifier: Notifier,
    private readonly log: (message: string, details: Record<string, unknown>) => void = () => {},
  ) {}

  /** Starts listening for changes announced by any instance. */
  async start(): Promise<void> {
    if (this.unlisten) return;
    this.unlisten = await this.notifier.listen({
      onPayload: (payload) => void this.onChange(payload),
      onLost: () => {
        this.listening = false;
        this.clear();
        this.log('sessions LISTEN connection lost; user cache off until it is back', {});
      },
      onRestored: () => {
        this.clear();
        this.listening = true;
        this.log('sessions LISTEN connection restored; user cache emptied, open sockets re-checked', {});
        // Whatever happened while deaf: check every open socket again.
        void this.recheckSockets(() => true, undefined);
      },
    });
    this.listening = true;
  }

  async stop(): Promise<void> {
    this.listening = false;
    await this.unlisten?.();
    this.unlisten = undefined;
    this.clear();
  }

  /** False while started but deaf to changes (LISTEN lost): revocations may be late until it is back. */
  get healthy(): boolean {
    return this.listening || !this.unlisten;
  }

  /** The user as authorization sees it: from this instance's cache, else from the database. */
  async user(id: string): Promise<SessionUser | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const generation = this.generation;
    const row = await this.users.findById(id);
    if (!row) return undefined;
    const { passwordHash: _secret, ...user } = row;
    if (this.listening && generation === this.generation) {
      if (this.cache.size >= MAX_CACHED_USERS) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(id, user);
    }
    return user;
  }

  /**
   * Ends every session of a user whose epoch was just bumped: refresh tokens and WebSocket
   * tickets revoked, every instance told (access tokens and open sockets then fail there).
   */
  async ended(userId: string): Promise<void> {
    await Promise.all([this.refreshTokens.revokeAllForUser(userId), this.tickets.deleteForUser(userId)]);
    await this.changed(userId);
  }

  /** Announces that a user's row changed (role, disabled, email, epoch). */
  async changed(userId: string): Promise<void> {
    this.invalidate(userId);
    await this.notifier.notify(changePayload({ kind: 'user', id: userId }));
  }

  /** Announces that who may see a lab changed (a member removed, the lab deleted). */
  async labChanged(labId: string): Promise<void> {
    await this.notifier.notify(changePayload({ kind: 'lab', id: labId }));
  }

  /** Re-checks `socket` on every change from now on; returns the function that stops that. */
  watch(socket: WatchedSocket): () => void {
    this.sockets.add(socket);
    return () => this.sockets.delete(socket);
  }

  /** Sockets open on this instance (for tests and metrics). */
  get openSockets(): number {
    return this.sockets.size;
  }

  private async onChange(payload: string): Promise<void> {
    const change = parseChange(payload);
    if (change?.kind === 'user') {
      this.invalidate(change.id);
      await this.recheckSockets((socket) => socket.userId === change.id, undefined);
    } else if (change?.kind === 'lab') {
      await this.recheckSockets(() => true, change.id);
    }
  }

  private async recheckSockets(which: (socket: WatchedSocket) => boolean, labId: string | undefined): Promise<void> {
    await Promise.all(
      [...this.sockets].filter(which).map(async (socket) => {
        try {
          const user = await this.user(socket.userId);
          if (!user || sessionVerdict(user, socket.epoch) !== 'current') {
            this.sockets.delete(socket);
            socket.close(CLOSE_SESSION_ENDED, 'session ended; sign in again');
          } else if (!(await socket.recheck(user, labId))) {
            this.sockets.delete(socket);
            socket.close(CLOSE_ACCESS_REVOKED, 'access revoked');
          }
        } catch (error) {
          // When access cannot be confirmed, the socket does not stay open on trust.
          this.log('socket access re-check failed; closing it', { err: error });
          this.sockets.delete(socket);
          socket.close(CLOSE_ACCESS_REVOKED, 'access could not be confirmed');
        }
      }),
    );
  }

  private invalidate(userId: string): void {
    this.generation++;
    this.cache.delete(userId);
  }

  private clear(): void {
    this.generation++;
    this.cache.clear();
  }
}
