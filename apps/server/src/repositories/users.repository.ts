import { and, count, eq, ilike, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { Role } from '@ctp/contracts';
import type { Db } from '../db/database.js';
import { users } from '../db/schema.js';

export type UserRow = typeof users.$inferSelect;

/** Every query on `users`. */
export class UsersRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.id, id));
    return row;
  }

  async findByUsername(username: string): Promise<UserRow | undefined> {
    const [row] = await this.db
      .select()
      .from(users)
      .where(sql`lower(${users.username}) = lower(${username})`);
    return row;
  }

  /** Users by lower-cased username, for the names given (one query). */
  async findByUsernames(usernames: string[]): Promise<Map<string, UserRow>> {
    const names = [...new Set(usernames.map((n) => n.toLowerCase()))];
    if (!names.length) return new Map();
    const rows = await this.db
      .select()
      .from(users)
      .where(inArray(sql`lower(${users.username})`, names));
    return new Map(rows.map((row) => [row.username.toLowerCase(), row]));
  }

  /** Users by lower-cased email, for the addresses given (one query). */
  async findByEmails(emails: string[]): Promise<Map<string, UserRow>> {
    const addresses = [...new Set(emails.map((e) => e.toLowerCase()))];
    if (!addresses.length) return new Map();
    const rows = await this.db
      .select()
      .from(users)
      .where(inArray(sql`lower(${users.email})`, addresses));
    return new Map(rows.map((row) => [row.email!.toLowerCase(), row]));
  }

  async insert(values: {
    username: string;
    email?: string | null;
    displayName?: string | null;
    role: Role;
    passwordHash: string;
  }): Promise<UserRow> {
    const [row] = await this.db.insert(users).values(values).returning();
    return row!;
  }

  /** Inserts unless the username exists; returns the row, or undefined when it existed. */
  async insertIfAbsent(values: { username: string; role: Role; passwordHash: string }): Promise<UserRow | undefined> {
    const [row] = await this.db.insert(users).values(values).onConflictDoNothing().returning();
    return row;
  }

  /** Changes a user; `endSessions` bumps the session epoch in the same statement. */
  async update(
    id: string,
    changes: Partial<Pick<UserRow, 'role' | 'disabled' | 'email' | 'passwordHash'>>,
    endSessions = false,
  ): Promise<UserRow | undefined> {
    const epoch = endSessions ? { sessionEpoch: sql`${users.sessionEpoch} + 1` } : {};
    const [row] = await this.db
      .update(users)
      .set({ ...changes, ...epoch, updatedAt: new Date() })
      .where(eq(users.id, id))
      .returning();
    return row;
  }

  async list(query: { limit: number; offset: number; search?: string; role?: Role }): Promise<{ rows: UserRow[]; total: number }> {
    const filters: SQL[] = [];
    if (query.search) {
      const pattern = `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      filters.push(or(ilike(users.username, pattern), ilike(users.email, pattern))!);
    }
    if (query.role) filters.push(eq(users.role, query.role));
    const where = filters.length ? and(...filters) : undefined;
    const rows = await this.db.select().from(users).where(where).orderBy(users.username).limit(query.limit).offset(query.offset);
    const [total] = await this.db.select({ n: count() }).from(users).where(where);
    return { rows, total: total?.n ?? 0 };
  }

  async countActiveAdmins(): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(users)
      .where(and(eq(users.role, 'admin'), eq(users.disabled, false)));
    return row?.n ?? 0;
  }
}
