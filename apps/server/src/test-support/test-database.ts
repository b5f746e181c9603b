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
  const database = await testDatabase();
  await database.db.execute(sql.raw(`truncate ${tables.join(', ')} restart identity cascade`));
}

/** Closes the shared database (Vitest's teardown), or Node would not exit. */
export async function closeTestDatabase(): Promise<void> {
  if (!shared) return;
  const database = await shared;
  shared = undefined;
  await database.close();
}
