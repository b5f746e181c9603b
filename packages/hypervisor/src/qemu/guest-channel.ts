import type { GuestCommand, GuestExecResult, GuestFile } from '../driver.js';
import { HypervisorError } from '../errors.js';
import { GuestAgentClient } from './guest-agent.client.js';

/**
 * The private guest channel of QEMU VMs: one guest agent connection per operation, and one
 * operation at a time per VM (QEMU's socket serves one client; a second would wait unanswered).
 * Each operation connects afresh and resynchronises, so it works the same after a boot, a RAM
 * snapshot revert or a restore from a saved state.
 */
export class QemuGuestChannel {
  private readonly queues = new Map<string, Promise<unknown>>();

  /** Polls until the agent behind `socketPath` answers a ping, or throws `timeout`. */
  async waitForAgent(socketPath: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        await this.session(socketPath, Math.min(left, 3000), (agent) => agent.ping(Math.min(left, 3000)));
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

  /** Runs `ready`, then `use` on a fresh connection, once every earlier operation on this socket has finished. */
  private session<T>(
    socketPath: string,
    connectTimeoutMs: number,
    use: (agent: GuestAgentClient) => Promise<T>,
    ready?: () => Promise<void>,
  ): Promise<T> {
    const previous = this.queues.get(socketPath) ?? Promise.resolve();
    const run = previous.then(async () => {
      await ready?.();
      const agent = await GuestAgentClient.connect(socketPath, connectTimeoutMs);
      try {
        return await use(agent);
      } finally {
        agent.close();
      }
    });
    const settled = run.catch(() => {});
    this.queues.set(socketPath, settled);
    void settled.then(() => {
      if (this.queues.get(socketPath) === settled) this.queues.delete(socketPath);
    });
    return run;
  }
}
