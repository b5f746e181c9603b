import type { Duplex } from 'node:stream';
import WebSocket, { createWebSocketStream } from 'ws';
import {
  HypervisorError,
  type ConsoleKind,
  type GuestCommand,
  type GuestExecResult,
  type GuestFile,
  type HostInfo,
  type HypervisorDriver,
  type NetworkInfo,
  type SavedStateInfo,
  type SnapshotInfo,
  type VmInfo,
} from '@ctp/hypervisor';
import { DRIVER_AUDIENCE, consoleAudience, issueClusterToken } from './cluster-token.js';
import { errorFromWire, fromWire, toWire, type RemoteMethod, type WireError } from './agent-protocol.js';

/** Where a RemoteDriver finds its agent. */
export interface RemoteHost {
  /** The host's registered name (tokens are bound to it). */
  name: string;
  /** The agent's base URL, e.g. `http://10.0.0.2:7070`. */
  address: string;
  clusterSecret: string;
}

// Beyond the driver's own wait, allowance for the network and the agent's queueing.
const MARGIN_MS = 30_000;
const DEFAULT_CALL_MS = 5 * 60_000;
const CONSOLE_OPEN_MS = 15_000;

/**
 * A HypervisorDriver whose VMs live on another host: each call is forwarded to that host's agent
 * server (see agent.server.ts) with a fresh cluster token. Only the methods the API needs
 * synchronously are forwarded; creating and destroying things is the host agent's own work, and
 * asking this driver for it throws `unsupported`.
 */
export class RemoteDriver implements HypervisorDriver {
  readonly kind = 'remote';

  constructor(private readonly host: RemoteHost) {}

  private url(path: string): URL {
    return new URL(path, this.host.address.endsWith('/') ? this.host.address : `${this.host.address}/`);
  }

  private unreachable(error: unknown): HypervisorError {
    const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
    const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    return new HypervisorError('host_unavailable', `host ${this.host.name} does not answer at ${this.host.address}: ${why}`, {
      cause: error,
    });
  }

  /** One forwarded call: the agent answers `{ result }` or `{ error }`. */
  private async call<T>(method: RemoteMethod, args: unknown[], timeoutMs = DEFAULT_CALL_MS): Promise<T> {
    const token = issueClusterToken(this.host.clusterSecret, { host: this.host.name, audience: DRIVER_AUDIENCE });
    let response: Response;
    try {
      response = await fetch(this.url('agent/v1/driver'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ method, args: toWire(args) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if ((error as Error)?.name === 'TimeoutError')
        throw new HypervisorError('timeout', `host ${this.host.name} did not answer ${method} within ${Math.round(timeoutMs / 1000)} s`);
      throw this.unreachable(error);
    }
    const body = (await response.json().catch(() => undefined)) as { result?: unknown; error?: WireError } | undefined;
    if (response.status === 401)
      throw new HypervisorError(
        'command_failed',
        `host ${this.host.name} refused this API's cluster token (is CTP_CLUSTER_SECRET the same on both?)`,
      );
    if (!response.ok || !body) throw errorFromWire(body?.error, this.host.name);
    return fromWire(body.result) as T;
  }

  private refuse(method: string): never {
    throw new HypervisorError('unsupported', `${method} runs on host ${this.host.name}'s own agent, not through a remote driver`);
  }

  probe(): Promise<HostInfo> {
    return this.call('probe', []);
  }

  getVm(name: string): Promise<VmInfo | null> {
    return this.call('getVm', [name]).then((vm) => (vm ?? null) as VmInfo | null);
  }

  startVm(name: string): Promise<void> {
    return this.call('startVm', [name]);
  }

  stopVm(name: string, options?: { timeoutMs?: number; force?: boolean }): Promise<void> {
    return this.call('stopVm', options ? [name, options] : [name], (options?.timeoutMs ?? 10_000) + MARGIN_MS);
  }

  rebootVm(name: string): Promise<void> {
    return this.call('rebootVm', [name]);
  }

  pauseVm(name: string): Promise<void> {
    return this.call('pauseVm', [name]);
  }

  resumeVm(name: string): Promise<void> {
    return this.call('resumeVm', [name]);
  }

  takeSnapshot(vmName: string, snapshotName: string): Promise<SnapshotInfo> {
    return this.call('takeSnapshot', [vmName, snapshotName]);
  }

  listSnapshots(vmName: string): Promise<SnapshotInfo[]> {
    return this.call('listSnapshots', [vmName]);
  }

  revertSnapshot(vmName: string, snapshotName: string): Promise<void> {
    return this.call('revertSnapshot', [vmName, snapshotName]);
  }

  deleteSnapshot(vmName: string, snapshotName: string): Promise<void> {
    return this.call('deleteSnapshot', [vmName, snapshotName]);
  }

  waitForGuestAgent(vmName: string, timeoutMs?: number): Promise<void> {
    const args = timeoutMs === undefined ? [vmName] : [vmName, timeoutMs];
    return this.call('waitForGuestAgent', args, (timeoutMs ?? 60_000) + MARGIN_MS);
  }

  guestExec(vmName: string, command: GuestCommand): Promise<GuestExecResult> {
    return this.call('guestExec', [vmName, command], (command.timeoutMs ?? 30_000) + MARGIN_MS);
  }

  guestWriteFile(vmName: string, file: GuestFile): Promise<void> {
    return this.call('guestWriteFile', [vmName, file]);
  }

  /** The console as a stream backed by a WebSocket to the agent; the agent's refusal becomes its HypervisorError. */
  async openConsole(vmName: string, kind: ConsoleKind): Promise<Duplex> {
    const token = issueClusterToken(this.host.clusterSecret, { host: this.host.name, audience: consoleAudience(vmName, kind) });
    const url = this.url(`agent/v1/vms/${encodeURIComponent(vmName)}/console/${kind}`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: CONSOLE_OPEN_MS,
    });
    // Made at once: the agent sends the console's scrollback right after the upgrade, in the
    // same read as the handshake, before anything awaiting 'open' could attach a listener.
    const stream = createWebSocketStream(socket);
    const quiet = () => {};
    stream.on('error', quiet);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          let error: WireError | undefined;
          try {
            error = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: WireError }).error;
          } catch {
            error = undefined;
          }
          socket.terminate();
          if (response.statusCode === 401)
            reject(new HypervisorError('command_failed', `host ${this.host.name} refused this API's cluster token for a console`));
          else reject(errorFromWire(error, this.host.name));
        });
      });
      socket.once('error', (error) => reject(this.unreachable(error)));
    }).catch((error: unknown) => {
      stream.destroy();
      throw error;
    });
    stream.off('error', quiet);
    // The agent closing the console (the VM went away) finishes the stream both ways, as a
    // local console's socket does; ws would otherwise keep its write side open.
    stream.on('end', () => stream.destroy());
    return stream;
  }

  async createVm(): Promise<VmInfo> {
    return this.refuse('createVm');
  }

  async destroyVm(): Promise<void> {
    return this.refuse('destroyVm');
  }

  async listVms(): Promise<VmInfo[]> {
    return this.refuse('listVms');
  }

  async createNetwork(): Promise<NetworkInfo> {
    return this.refuse('createNetwork');
  }

  async destroyNetwork(): Promise<void> {
    return this.refuse('destroyNetwork');
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    return this.refuse('listNetworks');
  }

  async saveState(): Promise<SavedStateInfo> {
    return this.refuse('saveState');
  }

  async listSavedStates(): Promise<SavedStateInfo[]> {
    return this.refuse('listSavedStates');
  }

  async deleteSavedState(): Promise<void> {
    return this.refuse('deleteSavedState');
  }
}
