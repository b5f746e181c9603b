import net from 'node:net';
import { HypervisorError } from '../errors.js';

/**
 * Connects to one of QEMU's unix sockets. QEMU listens with a backlog of one, so while another
 * client is being served a connect fails with EAGAIN: that is retried until `timeoutMs`, unlike
 * a missing listener (the VM is not running), which fails at once with `invalid_state`.
 */
export async function connectUnix(socketPath: string, timeoutMs: number, label: string): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const outcome = await new Promise<net.Socket | Error>((resolve) => {
      const socket = net.connect(socketPath);
      const timer = setTimeout(
        () => {
          socket.destroy();
          resolve(new HypervisorError('timeout', `${label} at ${socketPath} did not accept within ${timeoutMs} ms`));
        },
        Math.max(1, deadline - Date.now()),
      );
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(error);
      });
    });
    if (outcome instanceof net.Socket) return outcome;
    if (outcome instanceof HypervisorError) throw outcome;
    const code = (outcome as NodeJS.ErrnoException).code;
    if (code !== 'EAGAIN' || Date.now() + delay >= deadline)
      throw new HypervisorError(code === 'EAGAIN' ? 'timeout' : 'invalid_state', `${label} at ${socketPath}: ${outcome.message}`, {
        cause: outcome,
      });
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
