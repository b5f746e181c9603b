import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BridgeNetworkBackend, ownerOf, QemuDriver, runCommand } from '@ctp/hypervisor';
import { openDatabase } from '../db/database.js';
import { emptyTables } from './test-database.js';

const repoRoot = path.resolve(fileURLToPath(new URL('../../../..', import.meta.url)));

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** How a server process is started, beyond its environment. */
export interface ServerProcessOptions {
  /** An argv prefix, e.g. a network namespace's `ip netns exec NAME`. */
  prefix?: string[];
  /** Another process of the test (an API beside this agent) already owns the database: do not empty it. */
  shareDatabase?: boolean;
}

/** The real server (`src/main.ts`) as a child process, as `npm start` would run it. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private started = false;
  output = '';

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly options: ServerProcessOptions = {},
  ) {}

  /** The process id (the node process itself, also behind a prefix that execs it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts the server and resolves once it answers `/readyz` and runs its jobs. It uses the test
   * run's database: PGlite in its data directory, or the PostgreSQL server `DATABASE_URL` names.
   */
  async start(timeoutMs = 120_000): Promise<void> {
    const parentEnv = process.env;
    // A PostgreSQL server is shared with the test files before this one: the first start sees an
    // empty database, as a fresh install would (else its admin keeps another test's password).
    // A restart keeps what the server wrote.
    const databaseUrl = this.env.DATABASE_URL ?? parentEnv.DATABASE_URL;
    if (databaseUrl && !this.started && !this.options.shareDatabase) {
      const database = await openDatabase({ databaseUrl });
      try {
        await emptyTables(database);
      } finally {
        await database.close();
      }
    }
    this.started = true;
    this.output = '';
    // One process (node with tsx as a loader, not the tsx CLI, which forks): a SIGKILL then
    // really kills the server, as a crash would.
    const argv = [
      ...(this.options.prefix ?? []),
      process.execPath,
      '--import',
      'tsx',
      '--conditions=source',
      path.join(repoRoot, 'apps/server/src/main.ts'),
    ];
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: repoRoot,
      env: { ...parentEnv, PORT: String(this.port), HOST: '127.0.0.1', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const deadline = Date.now() + timeoutMs;
    // An API (or single process) says `platform ready`; an agent (CTP_ROLE=agent) `agent ready`.
    while (!this.output.includes('platform ready') && !this.output.includes('agent ready')) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`server exited: ${this.output.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`server not ready in ${timeoutMs} ms: ${this.output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Kills the server at once, as a crash would. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Sends a signal (e.g. SIGHUP) without waiting for anything. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Waits until the server's output contains `text` (a log line). */
  async waitForOutput(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in the server output: ${this.output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A JSON request to the server. */
  async request<T = unknown>(method: string, url: string, token?: string, body?: unknown): Promise<{ status: number; json: () => T }> {
    const response = await fetch(`${this.url}${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, json: () => JSON.parse(text) as T };
  }
}

/** Destroys the guests and lab networks a server with data directory `dataDir` left behind (a test's afterAll). */
export async function destroyLeftoverGuests(dataDir: string): Promise<void> {
  const driver = new QemuDriver({
    stateDir: path.join(dataDir, 'vms'),
    network: new BridgeNetworkBackend(runCommand, ownerOf(path.join(dataDir, 'networks'))),
    accelerator: 'tcg',
  });
  for (const vm of await driver.listVms()) await driver.destroyVm(vm.name);
  for (const network of await driver.listNetworks()) if (network.group?.startsWith('l')) await driver.destroyNetwork(network.name);
}
