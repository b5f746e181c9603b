import { getTableName, is, sql, Table } from 'drizzle-orm';
import { openDatabase, type Database } from '../db/database.js';
import * as schema from '../db/schema.js';

// One database per test process (PGlite takes seconds to open); tests reset it between them.
// DATABASE_URL points the same tests at a PostgreSQL server, which they own entirely.
let shared: Promise<Database> | undefined;

/** The test process's database, opened (and migrated) on first use. */
export function testDatabase(): Promise<Database> {
  shared ??= openDatabase({ databaseUrl: process.env.DATABASE_URL });
  return shared;
}

const tables = (Object.values(schema) as unknown[])
  .filter((value): value is Table => is(value, Table))
  .map((table) => `"${getTableName(table)}"`);

/** Empties every table, so each test starts from a clean database. */
export async function resetDatabase(): Promise<void> {
  await emptyTables(await testDatabase());
}

/** Empties every table of `database`. */
export async function emptyTables(database: Database): Promise<void> {
  // A previous test's background jobs may still be writing (row locks) while the truncate takes
  // its exclusive locks: on a PostgreSQL server one of the two is then chosen as a deadlock
  // victim. The truncate is the one to repeat.
  for (let attempt = 1; ; attempt++) {
    try {
      await database.db.execute(sql.raw(`truncate ${tables.join(', ')} restart identity cascade`));
      return;
    } catch (error) {
      const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
      if (code !== '40P01' || attempt >= 5) throw error;
    }
  }
}

/** Closes the shared database (Vitest's teardown), or Node would not exit. */
export async function closeTestDatabase(): Promise<void> {
  if (!shared) return;
  const database = await shared;
  shared = undefined;
  await database.close();
}
