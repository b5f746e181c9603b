import { randomInt } from 'node:crypto';
import type net from 'node:net';
import type { GuestCommand, GuestExecResult, GuestFile } from '../driver.js';
import { HypervisorError } from '../errors.js';
import { writePlan } from '../guest-file.js';
import { connectUnix } from './unix-socket.js';

/** The sentinel byte qemu-ga puts before a `guest-sync-delimited` answer (never part of UTF-8 JSON). */
const SENTINEL = 0xff;
/** Bytes per `guest-file-write`: qemu-ga takes base64 in one JSON line, so keep lines modest. */
const WRITE_CHUNK = 48 * 1024;
const DEFAULT_EXEC_TIMEOUT = 30_000;

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  command: string;
}

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
}

/**
 * A client of the QEMU guest agent (qemu-ga) on a VM's virtio-serial port, reached through the
 * unix socket QEMU serves for it. One connection carries one command at a time; the agent answers
 * in order, one JSON line per command. The stream may hold stale answers for an earlier client (or
 * commands queued while the agent was not yet running), so every connection first resynchronises
 * with `guest-sync-delimited` and a random id and ignores everything before the matching answer.
 * QEMU serves one client per socket at a time: callers serialise connections per VM.
 */
export class GuestAgentClient {
  private buffer = Buffer.alloc(0);
  /** Until the sync answer arrives, bytes before the sentinel are stale and dropped. */
  private synced = false;
  /** Whether a sentinel was seen since the last sync answer that was not ours. */
  private sawSentinel = false;
  private syncId = 0;
  private waiters: Waiter[] = [];
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.failAll(new HypervisorError('command_failed', 'guest agent connection closed'));
    });
    socket.on('error', () => {});
  }

  /** Connects to the agent socket and resynchronises; throws `timeout` when the agent does not answer in time. */
  static async connect(socketPath: string, timeoutMs = 5000): Promise<GuestAgentClient> {
    const client = await GuestAgentClient.open(socketPath, timeoutMs);
    try {
      await client.sync(timeoutMs);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Connects to the agent socket without a word to the agent: `sync` before the first command. */
  static async open(socketPath: string, timeoutMs = 5000): Promise<GuestAgentClient> {
    return new GuestAgentClient(await connectUnix(socketPath, timeoutMs, 'guest agent socket'));
  }

  /** Drops whatever an earlier client left in the stream and waits for our own sync answer. */
  async sync(timeoutMs: number): Promise<void> {
    this.syncId = randomInt(1, 2 ** 31);
    this.synced = false;
    // A leading 0xFF makes the agent throw away a half-read command of an earlier client.
    this.socket.write(Buffer.from([SENTINEL]));
    const answer = await this.send('guest-sync-delimited', { id: this.syncId }, timeoutMs);
    if (answer !== this.syncId) throw new HypervisorError('command_failed', `guest agent answered sync with ${String(answer)}`);
  }

  /** Runs one agent command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    return this.send(command, args, timeoutMs) as Promise<T>;
  }

  /** Checks that the agent answers. */
  async ping(timeoutMs = 5000): Promise<void> {
    await this.execute('guest-ping', undefined, timeoutMs);
  }

  /**
   * Runs a program in the guest (found on the agent's PATH), feeding `input` to stdin, and polls
   * until it exits. A program still running at the timeout is killed with its children and
   * reported with exit code 124 and `timedOut`; one killed by a signal reports 128 + the signal,
   * and one that cannot be started 127 (or 126), as a shell would.
   */
  async exec(command: GuestCommand): Promise<GuestExecResult> {
    const [program, ...args] = command.argv;
    if (!program) throw new HypervisorError('invalid', 'guestExec needs a program (argv[0])');
    const timeoutMs = command.timeoutMs ?? DEFAULT_EXEC_TIMEOUT;
    let pid: number;
    try {
      ({ pid } = await this.execute<{ pid: number }>('guest-exec', {
        path: program,
        arg: args,
        'capture-output': true,
        ...(command.input !== undefined ? { 'input-data': Buffer.from(command.input, 'utf8').toString('base64') } : {}),
      }));
    } catch (error) {
      // A program that cannot be started answers as a shell would: 127 not found, 126 not executable.
      const stderr = error instanceof HypervisorError ? (error.stderr ?? '') : '';
      if (!/Failed to execute child process/.test(stderr)) throw error;
      return { exitCode: /Permission denied/.test(stderr) ? 126 : 127, stdout: '', stderr: `${stderr}\n` };
    }
    const started = Date.now();
    const deadline = started + timeoutMs;
    let delay = 10;
    for (;;) {
      const status = await this.execute<ExecStatus>('guest-exec-status', { pid });
      if (status.exited) return result(status, false);
      if (Date.now() >= deadline) {
        await this.kill(pid);
        return { ...result(await this.reap(pid), true), exitCode: 124, timedOut: true };
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      // Short commands (file writes, identity) end within a few hundred ms on a busy TCG guest:
      // poll often at first, so that each one costs its own time and not the poll's.
      delay = Math.min(delay * 2, Date.now() - started < 2000 ? 40 : 200);
    }
  }

  /**
   * Writes a file the way `writePlan` describes, the content in chunks of `guest-file-write`; a
   * prepared file (see GuestFile) is filled in place with file calls alone where it is still empty.
   */
  async writeFile(file: GuestFile): Promise<void> {
    const plan = writePlan(file);
    if (file.prepared && (await this.fillPrepared(file))) return;
    if (typeof file.content === 'string' && Buffer.byteLength(file.content) <= WRITE_CHUNK) {
      // A small text file (identity, flags, configs) in one guest command, the content on its
      // stdin over this same channel: one round of guest work instead of five.
      return this.shell(plan.fromStdin, file.content);
    }
    await this.shell(plan.prepare);
    try {
      const handle = await this.execute<number>('guest-file-open', { path: plan.temporary, mode: 'w' });
      try {
        await this.writeChunks(handle, file);
      } finally {
        await this.execute('guest-file-close', { handle });
      }
      await this.shell(plan.finish);
    } catch (error) {
      await this.shell(['rm -f -- "$1"', 'sh', plan.temporary]).catch(() => {});
      throw error;
    }
  }

  /**
   * Fills a prepared file in place, starting no guest program: false, with nothing written, when
   * the file is missing or not empty. It keeps the mode and owner it was prepared with.
   */
  private async fillPrepared(file: GuestFile): Promise<boolean> {
    let handle: number;
    try {
      // 'r+' never creates a file: one created here would get the agent's mode, not the file's.
      handle = await this.execute<number>('guest-file-open', { path: file.path, mode: 'r+' });
    } catch (error) {
      if (error instanceof HypervisorError && error.code === 'command_failed') return false;
      throw error;
    }
    try {
      const end = await this.execute<{ position: number }>('guest-file-seek', { handle, offset: 0, whence: 'end' });
      // Not what was prepared (the image or the guest wrote it since): the ordinary write replaces it.
      if (end.position !== 0) return false;
      await this.writeChunks(handle, file);
      return true;
    } finally {
      await this.execute('guest-file-close', { handle });
    }
  }

  private async writeChunks(handle: number, file: GuestFile): Promise<void> {
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    for (let offset = 0; offset < content.length; offset += WRITE_CHUNK) {
      const chunk = content.subarray(offset, offset + WRITE_CHUNK);
      const { count } = await this.execute<{ count: number }>('guest-file-write', { handle, 'buf-b64': chunk.toString('base64') });
      if (count !== chunk.length)
        throw new HypervisorError('command_failed', `guest wrote ${count} of ${chunk.length} bytes to ${file.path}`);
    }
  }

  /** Whether the connection can still carry commands (not closed by either side, not out of step after a timeout). */
  get open(): boolean {
    return !this.closed;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Runs `sh -c SCRIPT sh ARGS...` (arguments never spliced into the script), `input` on its stdin, and fails on a non-zero exit. */
  private async shell(scriptAndArgs: string[], input?: string): Promise<void> {
    const outcome = await this.exec({ argv: ['sh', '-c', ...scriptAndArgs], timeoutMs: 15_000, ...(input !== undefined ? { input } : {}) });
    if (outcome.exitCode !== 0)
      throw new HypervisorError('command_failed', `guest command failed (${outcome.exitCode}): ${outcome.stderr.trim()}`, {
        stderr: outcome.stderr,
      });
  }

  /** Kills the program and everything it started (stopped first, so that nothing forks meanwhile). */
  private async kill(pid: number): Promise<void> {
    const script = 't() { kill -STOP "$1"; for c in $(pgrep -P "$1"); do t "$c"; done; kill -KILL "$1"; }; t "$1" 2>/dev/null';
    await this.exec({ argv: ['sh', '-c', script, 'sh', String(pid)], timeoutMs: 5000 }).catch(() => {});
  }

  /** After a kill, collect the output the program had produced (and free the agent's record of it). */
  private async reap(pid: number): Promise<ExecStatus> {
    for (let i = 0; i < 20; i++) {
      const status = await this.execute<ExecStatus>('guest-exec-status', { pid });
      if (status.exited) return status;
      await sleep(50);
    }
    return { exited: false };
  }

  private send(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new HypervisorError('command_failed', 'guest agent connection closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        command,
        timer: setTimeout(() => {
          // The answer may still come: the stream is out of step now, so this connection is done.
          this.failAll(new HypervisorError('timeout', `guest agent did not answer ${command} within ${timeoutMs} ms`));
          this.close();
        }, timeoutMs),
      };
      this.waiters.push(waiter);
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + '\n');
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.synced) {
      const sentinel = this.buffer.lastIndexOf(SENTINEL);
      if (sentinel >= 0) {
        this.sawSentinel = true;
        this.buffer = this.buffer.subarray(sentinel + 1);
      } else if (!this.sawSentinel) {
        this.buffer = Buffer.alloc(0);
        return;
      }
    }
    let newline: number;
    while ((newline = this.buffer.indexOf(0x0a)) >= 0) {
      const line = this.buffer.subarray(0, newline).toString('utf8').trim();
      this.buffer = this.buffer.subarray(newline + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let message: { return?: unknown; error?: { class?: string; desc?: string } };
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (!this.synced) {
      // Only our own sync answer counts; answers meant for an earlier client are dropped.
      if (message.return !== this.syncId) {
        this.sawSentinel = false;
        return;
      }
      this.synced = true;
    }
    const waiter = this.waiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    if (message.error) {
      const desc = message.error.desc ?? message.error.class ?? 'unknown error';
      waiter.reject(new HypervisorError('command_failed', `guest agent ${waiter.command}: ${desc}`, { stderr: desc }));
    } else waiter.resolve(message.return);
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}

function result(status: ExecStatus, timedOut: boolean): GuestExecResult {
  const decode = (data?: string) => (data ? Buffer.from(data, 'base64').toString('utf8') : '');
  const exitCode = status.exitcode ?? (status.signal !== undefined ? 128 + status.signal : timedOut ? 124 : -1);
  return { exitCode, stdout: decode(status['out-data']), stderr: decode(status['err-data']) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
