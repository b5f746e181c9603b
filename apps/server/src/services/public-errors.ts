import { CONTROL_CHARACTERS } from '../errors.js';
import { HypervisorError, type HypervisorErrorCode } from '@ctp/hypervisor';

// What users may read about a failure. Hypervisor messages name driver VMs (`l5accdb638da3426b-attacker`),
// files and commands: those stay in the server log.

const HYPERVISOR_MESSAGES: Record<HypervisorErrorCode, string> = {
  unsupported: 'The hypervisor does not support this operation',
  not_found: 'The machine does not exist on the hypervisor',
  conflict: 'The hypervisor refused this because of a conflicting operation or name',
  invalid: 'The hypervisor refused this request',
  invalid_state: 'The machine is not in a state that allows this',
  command_failed: 'The hypervisor failed to do this',
  timeout: 'The hypervisor did not answer in time',
  host_unavailable: 'The hypervisor host of this machine is unreachable (down or not answering); try again when it is back',
};

/** The HTTP status for a hypervisor failure: the caller's request conflicts or its host is down (409), or the hypervisor failed (502). */
export function hypervisorStatus(error: HypervisorError): number {
  return ['unsupported', 'invalid_state', 'not_found', 'conflict', 'host_unavailable'].includes(error.code) ? 409 : 502;
}

/** A hypervisor failure as users may read it. */
export function hypervisorMessage(error: HypervisorError): string {
  return HYPERVISOR_MESSAGES[error.code] ?? HYPERVISOR_MESSAGES.command_failed;
}

const DRIVER_NAME = /\bl[0-9a-f]{16}(?:-([a-z][a-z0-9-]*))?/g;
const FILE_PATH = /(?:[A-Za-z]:)?(?:\/[\w.@+~-]+){2,}\/?/g;

/** Removes what a message must not show a user: driver names (kept as the VM's own name), paths, control characters. */
export function redactInternals(message: string): string {
  const clean = message
    .replace(DRIVER_NAME, (_match, vm: string | undefined) => (vm ? `"${vm}"` : 'the lab'))
    .replace(FILE_PATH, '[path]')
    .replace(CONTROL_CHARACTERS, ' ')
    .trim();
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}

/** A failed lab step's error as users see it in the lab's progress. */
export function publicStepError(error: unknown): string {
  // Staff need the hypervisor's own words to fix a template or host: kept, with internals removed.
  if (error instanceof HypervisorError) return redactInternals(`${hypervisorMessage(error)}: ${error.message}`);
  return redactInternals(error instanceof Error ? error.message : String(error));
}
