import { and, eq, sql } from 'drizzle-orm';
import type { Role } from '@ctp/contracts';
import type { Db } from '../db/database.js';
import { userIdentities, users } from '../db/schema.js';
import type { UserRow } from './users.repository.js';

/** Thrown inside the transaction to undo a user whose identity was linked meanwhile. */
class AlreadyLinked extends Error {}

/** Every query on `user_identities`: accounts at OpenID Connect providers, linked to users. */
export class IdentitiesRepository {
  constructor(private readonly db: Db) {}

  /** The user linked to the provider's (issuer, subject), if any. */
  async findUser(issuer: string, subject: string): Promise<UserRow | undefined> {
    const [row] = await this.db
      .select({ user: users })
      .from(userIdentities)
      .innerJoin(users, eq(users.id, userIdentities.userId))
      .where(and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, subject)));
    return row?.user;
  }

  /**
   * Creates a user and links it to (issuer, subject) in one transaction, so that no user exists
   * without its identity. Returns undefined when the identity was linked meanwhile (two first
   * sign-ins at once); nothing is written then.
   */
  async createLinkedUser(
    identity: { issuer: string; subject: string },
    values: { username: string; email: string | null; role: Role; passwordHash: string },
  ): Promise<UserRow | undefined> {
    try {
      return await this.db.transaction(async (tx) => {
        const [user] = await tx.insert(users).values(values).returning();
        const linked = await tx
          .insert(userIdentities)
          .values({ issuer: identity.issuer, subject: identity.subject, userId: user!.id })
          .onConflictDoNothing()
          .returning();
        if (!linked.length) throw new AlreadyLinked();
        return user!;
      });
    } catch (error) {
      if (error instanceof AlreadyLinked) return undefined;
      throw error;
    }
  }

  /** Records a sign-in through the identity. */
  async touch(issuer: string, subject: string): Promise<void> {
    await this.db
      .update(userIdentities)
      .set({ lastSignInAt: new Date() })
      .where(and(eq(userIdentities.issuer, issuer), eq(userIdentities.subject, subject)));
  }

  /** Whether a username is taken (case-insensitively, as the unique index sees it). */
  async usernameTaken(username: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.username}) = lower(${username})`);
    return rows.length > 0;
  }

  /** Whether an e-mail address is taken (case-insensitively, as the unique index sees it). */
  async emailTaken(email: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.email}) = lower(${email})`);
    return rows.length > 0;
  }
}
