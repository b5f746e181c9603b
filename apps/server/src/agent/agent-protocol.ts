import { HypervisorError, type HypervisorDriver, type HypervisorErrorCode } from '@ctp/hypervisor';

/**
 * What crosses the wire between the API's RemoteDriver and an agent server: the methods the API
 * calls synchronously on a VM of another host, and a JSON encoding that keeps what plain JSON
 * loses (Dates in snapshot lists, Buffers in files written into guests) and HypervisorErrors
 * (code and message), so that services map a remote failure exactly as a local one.
 */

/**
 * Driver methods an agent serves over `POST /agent/v1/driver`. Everything that creates or
 * destroys VMs, networks or saved states runs on the host's agent from its own job queue, never
 * as a call from the API: those are deliberately absent.
 */
export const REMOTE_METHODS = [
  'probe',
  'getVm',
  'startVm',
  'stopVm',
  'rebootVm',
  'pauseVm',
  'resumeVm',
  'takeSnapshot',
  'listSnapshots',
  'revertSnapshot',
  'deleteSnapshot',
  'waitForGuestAgent',
  'guestExec',
  'guestWriteFile',
] as const satisfies readonly (keyof HypervisorDriver)[];

export type RemoteMethod = (typeof REMOTE_METHODS)[number];

/** True when `name` is a method an agent serves. */
export function isRemoteMethod(name: unknown): name is RemoteMethod {
  return typeof name === 'string' && (REMOTE_METHODS as readonly string[]).includes(name);
}

/** An error as the agent reports it. */
export interface WireError {
  code: HypervisorErrorCode;
  message: string;
  stderr?: string;
}

const CODES: readonly HypervisorErrorCode[] = [
  'unsupported',
  'not_found',
  'conflict',
  'invalid',
  'invalid_state',
  'command_failed',
  'timeout',
  'host_unavailable',
];

/** A value made JSON-safe: Dates become `{ $date }`, Buffers `{ $bytes }` (base64). */
export function toWire(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Buffer.isBuffer(value)) return { $bytes: value.toString('base64') };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = toWire(item);
    return out;
  }
  return value;
}

/** The inverse of `toWire`. */
export function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    if (keys.length === 1 && typeof record.$date === 'string') return new Date(record.$date);
    if (keys.length === 1 && typeof record.$bytes === 'string') return Buffer.from(record.$bytes, 'base64');
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      // A JSON body is data, never a prototype to inherit from.
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
      out[key] = fromWire(record[key]);
    }
    return out;
  }
  return value;
}

/** Any error thrown by a driver, as the agent sends it back. */
export function errorToWire(error: unknown): WireError {
  if (error instanceof HypervisorError)
    return { code: error.code, message: error.message, ...(error.stderr !== undefined ? { stderr: error.stderr } : {}) };
  // Not a driver's own failure (a bug, a crash): still a hypervisor-side failure to the caller.
  return { code: 'command_failed', message: error instanceof Error ? error.message : String(error) };
}

/** The HypervisorError an agent reported (an unknown code counts as a failed command). */
export function errorFromWire(error: Partial<WireError> | undefined, host: string): HypervisorError {
  const code = error?.code && CODES.includes(error.code) ? error.code : 'command_failed';
  const message = typeof error?.message === 'string' ? error.message : `the agent of host ${host} failed`;
  return new HypervisorError(code, message, typeof error?.stderr === 'string' ? { stderr: error.stderr } : undefined);
}
