import type net from 'node:net';
import { HypervisorError } from '../errors.js';
import { connectUnix } from './unix-socket.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A QMP (QEMU Machine Protocol) connection over a unix socket: one command at a time, JSON lines. */
export class QmpClient {
  private buffer = '';
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private readonly events: { event: string; data?: unknown }[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.failAll(new HypervisorError('command_failed', 'QMP connection closed')));
    socket.on('error', () => {});
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = await connectUnix(path, timeoutMs, 'QMP').catch((error: HypervisorError) => {
      // Callers tell "VM not running" from a failed command by the code: keep QMP's historical one.
      throw error.code === 'invalid_state' ? new HypervisorError('command_failed', error.message, { cause: error }) : error;
    });
    const client = new QmpClient(socket);
    await client.greeting(timeoutMs);
    await client.execute('qmp_capabilities');
    return client;
  }

  private greetingWaiter: ((ok: boolean) => void) | undefined;
  private greeted = false;

  private greeting(timeoutMs: number): Promise<void> {
    if (this.greeted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new HypervisorError('timeout', 'no QMP greeting')), timeoutMs);
      this.greetingWaiter = (ok) => {
        clearTimeout(timer);
        if (ok) resolve();
        else reject(new HypervisorError('command_failed', 'QMP closed before its greeting'));
      };
    });
  }

  /** Runs a QMP command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HypervisorError('timeout', `QMP ${command} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Runs a human monitor command (savevm, loadvm, delvm, info snapshots) and returns its output. */
  async hmp(commandLine: string, timeoutMs = 60_000): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
  }

  /** Events received so far (SHUTDOWN, STOP, RESUME, ...). */
  receivedEvents(): readonly { event: string; data?: unknown }[] {
    return this.events;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (!line) continue;
      let message: {
        QMP?: unknown;
        id?: string;
        return?: unknown;
        error?: { class: string; desc: string };
        event?: string;
        data?: unknown;
      };
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      if (message.QMP) {
        this.greeted = true;
        this.greetingWaiter?.(true);
      } else if (message.event) {
        this.events.push({ event: message.event, data: message.data });
      } else if (message.id !== undefined) {
        const pending = this.pending.get(String(message.id));
        if (!pending) continue;
        this.pending.delete(String(message.id));
        clearTimeout(pending.timer);
        if (message.error)
          pending.reject(new HypervisorError('command_failed', `QMP: ${message.error.desc}`, { stderr: message.error.desc }));
        else pending.resolve(message.return);
      }
    }
  }

  private failAll(error: Error): void {
    this.greetingWaiter?.(false);
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}
