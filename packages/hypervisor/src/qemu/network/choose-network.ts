import type { CommandRunner } from '../../command-runner.js';
import { BridgeNetworkBackend, ownerOf } from './bridge.network.js';
import type { LabNetworkBackend } from './lab-network.js';
import { SocketNetworkBackend } from './socket.network.js';

/** Bridges when this process may create them (root or CAP_NET_ADMIN), else multicast sockets. */
export async function chooseNetworkBackend(run: CommandRunner, stateDir: string): Promise<LabNetworkBackend> {
  const probe = 'ctpbprobe';
  try {
    await run(['ip', 'link', 'add', probe, 'type', 'bridge']);
    await run(['ip', 'link', 'del', probe]);
    await run(['nft', 'list', 'tables']);
    return new BridgeNetworkBackend(run, ownerOf(stateDir));
  } catch {
    await run(['ip', 'link', 'del', probe]).catch(() => {});
    return new SocketNetworkBackend(stateDir);
  }
}
