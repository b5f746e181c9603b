import type { HypervisorDriver } from '@ctp/hypervisor';

/** The private guest channel's part of the driver contract (see GUEST-CHANNEL.md). */
export interface GuestExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

export interface GuestChannel {
  waitForGuestAgent(vmName: string, timeoutMs?: number): Promise<void>;
  guestExec(vmName: string, command: { argv: string[]; input?: string; timeoutMs?: number }): Promise<GuestExecResult>;
  guestWriteFile(vmName: string, file: { path: string; content: string | Buffer; mode?: number; owner?: string }): Promise<void>;
}

/** The driver's guest channel, or undefined when this driver has none. */
export function guestChannelOf(driver: HypervisorDriver): GuestChannel | undefined {
  const channel = driver as unknown as Partial<GuestChannel>;
  if (typeof channel.guestExec !== 'function' || typeof channel.guestWriteFile !== 'function' || typeof channel.waitForGuestAgent !== 'function')
    return undefined;
  return channel as GuestChannel;
}
