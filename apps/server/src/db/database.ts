import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { fromPglite, type ConstructorOptions } from 'pg-boss';
import { pgliteNotifier, poolNotifier, type Notifier } from './notifier.js';
import * as schema from './schema.js';

/** The Drizzle database, the same type whichever engine is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  /** `pglite` (embedded) or `postgres` (a server via DATABASE_URL). */
  engine: 'pglite' | 'postgres';
  /** The PGlite instance when embedded (pg-boss and LISTEN/NOTIFY adapters need it). */
  pglite?: PGlite;
  /** The pg pool when on a server. */
  pool?: pg.Pool;
  /** NOTIFY/LISTEN on `channel`, on this engine (in process, or a server connection that reconnects). */
  notifier(channel: string): Notifier;
  /** How pg-boss reaches this database (PGlite's adapter, or its own small pool on the server). */
  jobBackend(): Pick<ConstructorOptions, 'db' | 'backend' | 'connectionString' | 'max'>;
  /** Throws when the database cannot answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A PostgreSQL server URL; when absent PGlite is used. */
  databaseUrl?: string;
  /** PGlite's data directory; `memory://` (or undefined) keeps it in memory. */
  pgliteDir?: string;
  /** Where a server connection's background failure is reported (an idle client lost in a restart). */
  log?: (message: string, details: Record<string, unknown>) => void;
}

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));
// Any constant works: it only has to be the same for every instance migrating this database.
const MIGRATION_LOCK_ID = 727_274_001;

/** Opens the database (PGlite or a PostgreSQL server) and applies pending migrations. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    // A connect that hangs (a failed-over address that drops packets) fails after 5 s instead of
    // holding the request; keep-alive finds dead idle and LISTEN connections.
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, connectionTimeoutMillis: 5000, keepAlive: true });
    // An idle client that loses its server (restart, failover) is dropped by the pool, which
    // connects again on the next query; unhandled, this event would end the process.
    const log = options.log ?? (() => {});
    pool.on('error', (error: Error & { code?: string }) =>
      log('database connection lost (idle)', { error: error.message, code: error.code }),
    );
    const db = drizzlePg({ client: pool, schema }) as unknown as Db;
    const client = await pool.connect();
    try {
      // Several API instances may start at once: one migrates, the others wait.
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      await migratePg(drizzlePg({ client, schema }), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
      client.release();
    }
    return {
      db,
      engine: 'postgres',
      pool,
      notifier: (channel) => poolNotifier(pool, channel),
      jobBackend: () => ({ connectionString: options.databaseUrl, max: 4 }),
      ping: async () => void (await pool.query('select 1')),
      close: () => pool.end(),
    };
  }
  const dir = options.pgliteDir && options.pgliteDir !== 'memory://' ? options.pgliteDir : undefined;
  if (dir) mkdirSync(dir, { recursive: true });
  const pglite = await PGlite.create(dir);
  const pgliteDb = drizzlePglite({ client: pglite, schema });
  await migratePglite(pgliteDb, { migrationsFolder });
  return {
    db: pgliteDb as unknown as Db,
    engine: 'pglite',
    pglite,
    notifier: (channel) => pgliteNotifier(pglite, channel),
    jobBackend: () => ({ db: fromPglite(pglite), backend: 'pglite' }),
    ping: async () => void (await pgliteDb.execute(sql`select 1`)),
    close: () => pglite.close(),
  };
}
