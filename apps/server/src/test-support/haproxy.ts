import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(fileURLToPath(new URL('../../../..', import.meta.url)));

/** HAProxy (Debian's package) running the shipped `deploy/haproxy.cfg` in front of API instances. */
export class HaproxyProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    readonly port: number,
    private readonly statsPort: number,
    private readonly backends: [string, string],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts HAProxy in the foreground and waits until it serves `/readyz` through both instances. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.child = spawn('haproxy', ['-db', '-f', path.join(repoRoot, 'deploy/haproxy.cfg')], {
      env: {
        ...process.env,
        CTP_LB_BIND: `127.0.0.1:${this.port}`,
        CTP_LB_STATS: `127.0.0.1:${this.statsPort}`,
        CTP_API_1: this.backends[0],
        CTP_API_2: this.backends[1],
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const deadline = Date.now() + timeoutMs;
    while ((await this.backendsUp()) < 2) {
      if (this.child.exitCode !== null) throw new Error(`haproxy exited: ${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`haproxy backends not up in ${timeoutMs} ms: ${this.output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** How many API instances HAProxy's health checks see as up (its statistics page, as CSV). */
  async backendsUp(): Promise<number> {
    const csv = await fetch(`http://127.0.0.1:${this.statsPort}/;csv`).then(
      (r) => r.text(),
      () => '',
    );
    return csv.split('\n').filter((line) => line.startsWith('ctp_api,api') && line.split(',')[17] === 'UP').length;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
