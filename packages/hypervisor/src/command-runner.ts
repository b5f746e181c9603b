import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HypervisorError } from './errors.js';

export interface CommandOptions {
  /** Kill the command after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Exit codes that are not failures (default `[0]`). */
  okCodes?: number[];
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one external command given as an argv array (never a shell string). Drivers receive one
 * runner by injection, so tests can substitute a strict fake that asserts the exact argv.
 * A failure throws `HypervisorError('command_failed' | 'timeout')` carrying the command's stderr.
 */
export type CommandRunner = (argv: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/** What the command helper answers for one command. */
interface HelperReply {
  id: number;
  code?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
  timedOut?: boolean;
  /** The command could not be started (e.g. ENOENT), or the helper itself failed. */
  error?: string;
}

/** The helper's file: beside `src/` and `dist/`, so both the sources and the build find it. */
const HELPER_FILE = fileURLToPath(new URL('../command-helper.mjs', import.meta.url));

/**
 * One command helper process (`command-helper.mjs`) and the commands it is running. The helper
 * does the forking: forking this process, which may hold the embedded database's hundreds of
 * MiB, blocked its event loop ~60 ms per command (measured: `spawn` of `/bin/true` from a Node
 * process with 800 MiB in use), so a class start's hundreds of `ip`, `nft` and `qemu-img`
 * commands stalled every request. It does not keep this process alive while idle.
 */
class HelperProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (reply: HelperReply) => void>();
  private nextId = 1;
  exited = false;

  constructor() {
    // Its own environment only needs PATH; each command gets the caller's environment.
    this.child = spawn(process.execPath, [HELPER_FILE], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    this.child.on('message', (reply: HelperReply) => this.settle(reply.id, reply));
    this.child.on('error', (error) => this.fail(`the command helper failed: ${error.message}`));
    this.child.on('exit', (code, signal) => this.fail(`the command helper exited (${signal ?? code})`));
    this.child.unref();
    this.child.channel?.unref();
  }

  get usable(): boolean {
    return !this.exited && this.child.connected;
  }

  run(request: Omit<HelperReply, 'id'> & Record<string, unknown>): Promise<HelperReply> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, resolve);
      // Waiting for a command keeps this process alive, as a child's pipes did.
      if (this.pending.size === 1) this.child.channel?.ref();
      this.child.send({ id, ...request }, (error) => {
        if (error) this.settle(id, { id, error: `the command helper did not take the command: ${error.message}` });
      });
    });
  }

  private settle(id: number, reply: HelperReply): void {
    const resolve = this.pending.get(id);
    if (!resolve) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.child.channel?.unref();
    resolve(reply);
  }

  private fail(message: string): void {
    this.exited = true;
    for (const id of [...this.pending.keys()]) this.settle(id, { id, error: message });
  }
}

let helper: HelperProcess | undefined;

/** The running helper, started again if it has gone. */
function commandHelper(): HelperProcess {
  if (!helper?.usable) helper = new HelperProcess();
  return helper;
}

/** The real runner: the command helper starts the process directly, without a shell. */
export const runCommand: CommandRunner = async (argv, options = {}) => {
  const [file, ...args] = argv;
  if (!file) throw new HypervisorError('invalid', 'empty command');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const okCodes = options.okCodes ?? [0];
  const reply = await commandHelper().run({
    file,
    args,
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input ?? '',
    timeoutMs,
  });
  const shown = argv.join(' ');
  const stderr = reply.stderr ?? '';
  if (reply.error !== undefined) throw new HypervisorError('command_failed', `${file}: ${reply.error}`);
  if (reply.timedOut) throw new HypervisorError('timeout', `${shown}: timed out after ${timeoutMs} ms`, { stderr });
  const code = reply.code ?? null;
  if (code === null || !okCodes.includes(code)) {
    const why = code === null ? `killed by ${reply.signal}` : `exit code ${code}`;
    const detail = stderr.trim() ? `: ${stderr.trim()}` : '';
    throw new HypervisorError('command_failed', `${shown} failed (${why})${detail}`, { stderr });
  }
  return { code, stdout: reply.stdout ?? '', stderr };
};
