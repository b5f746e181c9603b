import pg from 'pg';
import type { Database } from '../src/db/database.js';

// Database load of a simulation run, counted at the drivers under Drizzle and pg-boss, so that
// every statement of every part (API, admission, jobs, events, heartbeats) is seen.
// - PGlite (one WASM PostgreSQL in the process): statements through query/exec and inside
//   transactions, and the time PostgreSQL itself ran (its synchronous protocol calls): on one
//   thread that is how busy the database was.
// - A PostgreSQL server: every pg client query (our pool, pg-boss's pool, LISTEN), timed from send
//   to answer, and the server's own counters (pg_stat_database) for commits and rows.

/** Counters since the last `reset`. */
export interface LoadFigures {
  statements: number;
  /** Transactions: explicit ones on PGlite; commits + rollbacks from pg_stat_database on a server. */
  transactions: number;
  /** PGlite: ms PostgreSQL ran; server: ms from sending statements to their answers (summed, they overlap). */
  busyMs: number;
  /** Server only: rows inserted, updated, deleted (pg_stat_database). */
  rowsWritten?: number;
}

export interface LoadCounter {
  reset(): Promise<void>;
  read(): Promise<LoadFigures>;
  /** What `busyMs` means on this engine, for the report. */
  busyMeaning: string;
}

type Query = (...args: unknown[]) => Promise<unknown>;

/** Starts counting the database's load (wraps the engine's query functions in place). */
export function countDatabaseLoad(database: Database, databaseUrl?: string): LoadCounter {
  return database.pglite ? countPglite(database.pglite as unknown as PgliteInternals) : countServer(databaseUrl!);
}

interface PgliteInternals {
  query: Query;
  exec: Query;
  transaction: (callback: (tx: { query: Query; exec: Query }) => Promise<unknown>) => Promise<unknown>;
  execProtocolRawSync: (message: Uint8Array) => unknown;
}

function countPglite(pglite: PgliteInternals): LoadCounter {
  let statements = 0;
  let transactions = 0;
  let busyMs = 0;
  const counted =
    (run: Query): Query =>
    (...args) => {
      statements++;
      return run(...args);
    };
  pglite.query = counted(pglite.query.bind(pglite));
  pglite.exec = counted(pglite.exec.bind(pglite));
  const transaction = pglite.transaction.bind(pglite);
  pglite.transaction = (callback) => {
    transactions++;
    return transaction((tx) => callback({ ...tx, query: counted(tx.query), exec: counted(tx.exec) }));
  };
  // Every statement ends in this synchronous call into the WASM engine: its time is the engine's.
  const raw = pglite.execProtocolRawSync.bind(pglite);
  pglite.execProtocolRawSync = (message) => {
    const started = performance.now();
    try {
      return raw(message);
    } finally {
      busyMs += performance.now() - started;
    }
  };
  return {
    busyMeaning: 'time PostgreSQL (PGlite, one thread) spent executing',
    reset: async () => {
      statements = transactions = busyMs = 0;
    },
    read: async () => ({ statements, transactions, busyMs: Math.round(busyMs) }),
  };
}

function countServer(databaseUrl: string): LoadCounter {
  let statements = 0;
  let busyMs = 0;
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const query = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    statements++;
    const started = performance.now();
    const result = query.apply(this, args) as unknown;
    // Callback-style calls (pg's own internals) return nothing to time.
    if (result instanceof Promise) void result.finally(() => (busyMs += performance.now() - started)).catch(() => {});
    return result as Promise<unknown>;
  };
  const stats = async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(
        'select xact_commit + xact_rollback as xacts, tup_inserted + tup_updated + tup_deleted as written from pg_stat_database where datname = current_database()',
      );
      return { xacts: Number(rows[0].xacts), written: Number(rows[0].written) };
    } finally {
      await client.end();
    }
  };
  let base = { xacts: 0, written: 0 };
  return {
    busyMeaning: 'sum over statements of the time from sending each to its answer (they overlap on the pools)',
    reset: async () => {
      // The statistics collector reports with a delay: what is pending counts from now on.
      base = await stats();
      statements = busyMs = 0;
    },
    read: async () => {
      const now = await stats();
      return { statements, transactions: now.xacts - base.xacts, busyMs: Math.round(busyMs), rowsWritten: now.written - base.written };
    },
  };
}
