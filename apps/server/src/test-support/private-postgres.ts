import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './server-process.js';

const run = promisify(execFile);
// Debian's PostgreSQL 15 (package postgresql-15, installed by .ci/run and scripts/setup.sh).
const BIN = '/usr/lib/postgresql/15/bin';

// PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user.
const asRoot = process.getuid?.() === 0;

/** Who may connect over TCP: the platform's role `ctp` (trust, on loopback and the given networks), or nobody. */
function hba(tcp: 'trust' | 'reject', networks: string[]): string {
  return ['local all all trust', ...['127.0.0.1/32', ...networks].map((n) => `host all all ${n} ${tcp}`), ''].join('\n');
}

/** Where the server listens besides loopback, and which networks may connect (e.g. network namespaces' links). */
export interface PrivatePostgresOptions {
  listen?: string[];
  networks?: string[];
}

/**
 * A PostgreSQL 15 server owned by one test: its own data directory, port and socket directory, so
 * that the test may stop, start and reconfigure it without touching anyone else's database.
 */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly options: PrivatePostgresOptions = {},
  ) {}

  /** The URL the platform connects with (TCP on loopback, role `ctp`, database `ctp`). */
  get url(): string {
    return this.urlVia('127.0.0.1');
  }

  /** The URL for a client that reaches the server at `address` (one of its `listen` addresses). */
  urlVia(address: string): string {
    return `postgres://ctp@${address}:${this.port}/ctp`;
  }

  private get data(): string {
    return path.join(this.dir, 'data');
  }

  /** Creates the cluster (initdb), starts it and creates the platform's role and database. */
  static async start(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'ctp-pg-'));
    if (asRoot) chownSync(dir, postgresUid(), postgresGid());
    const server = new PrivatePostgres(dir, await freePort(), options);
    await server.command('initdb', ['-D', server.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    server.allowTcp(true);
    await server.startServer();
    await server.sql('create role ctp login superuser');
    await server.sql('create database ctp owner ctp');
    return server;
  }

  /** Starts the server again (after `stop`), waiting until it accepts connections. */
  async startServer(): Promise<void> {
    const listen = ['127.0.0.1', ...(this.options.listen ?? [])].join(',');
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=${listen} -c fsync=off`;
    await this.command('pg_ctl', ['-D', this.data, '-o', options, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
  }

  /** Stops the server as an operator's restart would (`-m fast`: sessions are ended). */
  async stop(): Promise<void> {
    await this.command('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  /** Lets the platform connect over TCP, or refuses it (superuser on the unix socket still works); reloaded when running. */
  allowTcp(allowed: boolean, reload = false): Promise<void> | void {
    const file = path.join(this.data, 'pg_hba.conf');
    writeFileSync(file, hba(allowed ? 'trust' : 'reject', this.options.networks ?? []));
    if (asRoot) chownSync(file, postgresUid(), postgresGid());
    if (reload) return this.command('pg_ctl', ['-D', this.data, 'reload']).then(() => undefined);
  }

  /** Runs SQL as the superuser over the unix socket (works while TCP is refused). */
  async sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = [], database = 'postgres'): Promise<T[]> {
    const client = new pg.Client({ host: this.dir, port: this.port, user: 'postgres', database });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Stops the server (if running) and removes its files. */
  async destroy(): Promise<void> {
    await this.command('pg_ctl', ['-D', this.data, '-m', 'immediate', 'stop']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async command(tool: string, args: string[]): Promise<void> {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(BIN, tool), ...args]] : [path.join(BIN, tool), args];
    await run(file, argv, { cwd: this.dir, timeout: 90_000 });
  }
}

function postgresUid(): number {
  return idOf('-u');
}

function postgresGid(): number {
  return idOf('-g');
}

const ids = new Map<string, number>();
function idOf(flag: '-u' | '-g'): number {
  let id = ids.get(flag);
  if (id === undefined) {
    // Synchronous and once: `id` is in coreutils, and the user exists wherever postgresql-15 is installed.
    id = Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    ids.set(flag, id);
  }
  return id;
}
