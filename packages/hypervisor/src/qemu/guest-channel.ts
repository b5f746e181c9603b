import type { GuestCommand, GuestExecResult, GuestFile } from '../driver.js';
import { HypervisorError } from '../errors.js';
import { GuestAgentClient } from './guest-agent.client.js';

/**
 * The private guest channel of QEMU VMs: one guest agent connection per VM, kept open between
 * operations, and one operation at a time per VM (QEMU's socket serves one client; a second would
 * wait unanswered). A connection resynchronises once, when it opens; the driver drops it whenever
 * the guest may have lost track of the stream (a new QEMU, a stop, a reset, a snapshot revert), and
 * a connection that timed out closes itself, so the next operation starts on a fresh one.
 *
 * Why kept open: qemu-ga polls its port ten times a second while no host client is connected
 * (QEMU's qga/main.c sleeps 100 ms and retries), which under TCG costs an idle demo guest
 * 14–16 ms of host CPU per second instead of 2–4. And each connection costs the guest a
 * port-open and a port-close event and a sync round trip.
 */
export class QemuGuestChannel {
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Kept connections; `synced` once the connection's first sync was answered. */
  private readonly connections = new Map<string, { agent: GuestAgentClient; synced: boolean }>();

  /** Polls until the agent behind `socketPath` answers (a sync on a new connection, a ping on a kept one), or throws `timeout`. */
  async waitForAgent(socketPath: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        await this.session(socketPath, Math.min(left, 3000), (agent, kept) =>
          kept ? agent.ping(Math.min(left, 3000)) : Promise.resolve(),
        );
        return;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(0, deadline - Date.now()))));
    }
    throw new HypervisorError('timeout', `the guest agent did not answer within ${timeoutMs} ms (${last})`);
  }

  /** Runs a command in the guest, once `ready` (the caller's state check, run in turn) passes. */
  exec(socketPath: string, command: GuestCommand, ready: () => Promise<void>): Promise<GuestExecResult> {
    if (command.argv.length === 0 || !command.argv[0]) throw new HypervisorError('invalid', 'guestExec needs a program (argv[0])');
    return this.session(socketPath, 5000, (agent) => agent.exec(command), ready);
  }

  /** Writes a file in the guest, once `ready` passes. */
  writeFile(socketPath: string, file: GuestFile, ready: () => Promise<void>): Promise<void> {
    return this.session(socketPath, 5000, (agent) => agent.writeFile(file), ready);
  }

  /**
   * Connects to the socket without a word to the agent, unless a connection is kept already: the
   * guest's port reads as connected again, so its agent stops polling (a driver started anew
   * calls this for the VMs it finds running). The first operation on it resynchronises.
   */
  keep(socketPath: string): Promise<void> {
    return this.enqueue(socketPath, async () => {
      if (this.connections.get(socketPath)?.agent.open) return;
      const agent = await GuestAgentClient.open(socketPath, 2000).catch(() => undefined);
      if (agent) this.connections.set(socketPath, { agent, synced: false });
    });
  }

  /** Closes the kept connection of one socket: its guest (or its QEMU) is about to change under it. */
  forget(socketPath: string): void {
    this.connections.get(socketPath)?.agent.close();
    this.connections.delete(socketPath);
  }

  /** Closes every kept connection (the guests go back to polling their port). */
  close(): void {
    for (const socketPath of [...this.connections.keys()]) this.forget(socketPath);
  }

  /** Runs `ready`, then `use` on the socket's connection (opened if needed), in turn with the socket's other operations. */
  private session<T>(
    socketPath: string,
    connectTimeoutMs: number,
    use: (agent: GuestAgentClient, kept: boolean) => Promise<T>,
    ready?: () => Promise<void>,
  ): Promise<T> {
    return this.enqueue(socketPath, async () => {
      await ready?.();
      let connection = this.connections.get(socketPath);
      if (!connection?.agent.open) {
        this.forget(socketPath);
        connection = { agent: await GuestAgentClient.open(socketPath, connectTimeoutMs), synced: false };
        this.connections.set(socketPath, connection);
      }
      const kept = connection.synced;
      if (!kept) {
        try {
          await connection.agent.sync(connectTimeoutMs);
        } catch (error) {
          this.forget(socketPath);
          throw error;
        }
        connection.synced = true;
      }
      return use(connection.agent, kept);
    });
  }

  /**
   * Runs `task` once every earlier task on this socket has finished. Connecting in turn matters:
   * QEMU accepts one client per socket, so a second connection of ours would wait in its backlog
   * unanswered (and a third find the backlog full).
   */
  private enqueue<T>(socketPath: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(socketPath) ?? Promise.resolve();
    const run = previous.then(task);
    const settled = run.catch(() => {});
    this.queues.set(socketPath, settled);
    void settled.then(() => {
      if (this.queues.get(socketPath) === settled) this.queues.delete(socketPath);
    });
    return run;
  }
}
