export type HypervisorErrorCode =
  'unsupported' | 'not_found' | 'conflict' | 'invalid' | 'invalid_state' | 'command_failed' | 'timeout' | 'host_unavailable';

/** The one error type drivers throw; `code` says what kind of failure it is. */
export class HypervisorError extends Error {
  readonly code: HypervisorErrorCode;
  /** The failing command's stderr, when there was one. */
  readonly stderr?: string;

  constructor(code: HypervisorErrorCode, message: string, options?: { stderr?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = 'HypervisorError';
    this.code = code;
    this.stderr = options?.stderr;
  }
}

/** Thrown by drivers for operations their hypervisor cannot do. */
export function unsupported(driver: string, operation: string): HypervisorError {
  return new HypervisorError('unsupported', `${driver} driver does not support ${operation}`);
}
