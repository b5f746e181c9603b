import type { CommandRunner, CommandResult } from '../command-runner.js';
import { HypervisorError } from '../errors.js';

/**
 * The VBoxManage options that differ between versions, as Vagrant's VirtualBox provider does it
 * (`driver/meta.rb` picks a driver per version): 7.0 renamed many `modifyvm` options to
 * hyphenated forms (`--uartmode1` → `--uart-mode1`, `--vrdeport` → `--vrde-port`, ...).
 */
export interface VBoxCliAdapter {
  /** The series this adapter speaks, e.g. `6.1` or `7`. */
  series: string;
  uartMode(n: number): string;
  vrdePort: string;
  vrdeAddress: string;
  nicType(n: number): string;
}

const V6_1: VBoxCliAdapter = {
  series: '6.1',
  uartMode: (n) => `--uartmode${n}`,
  vrdePort: '--vrdeport',
  vrdeAddress: '--vrdeaddress',
  nicType: (n) => `--nictype${n}`,
};

const V7: VBoxCliAdapter = {
  series: '7',
  uartMode: (n) => `--uart-mode${n}`,
  vrdePort: '--vrde-port',
  vrdeAddress: '--vrde-address',
  nicType: (n) => `--nic-type${n}`,
};

/** Picks the adapter for a `VBoxManage --version` answer such as `7.0.14r161095`. */
export function adapterFor(versionOutput: string): { version: string; adapter: VBoxCliAdapter } {
  const match = versionOutput.trim().match(/^(\d+)\.(\d+)\.(\d+)/);
  if (!match) throw new HypervisorError('command_failed', `unrecognised VBoxManage version "${versionOutput.trim()}"`);
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const version = `${match[1]}.${match[2]}.${match[3]}`;
  if (major >= 7) return { version, adapter: V7 };
  if (major === 6 && minor >= 1) return { version, adapter: V6_1 };
  throw new HypervisorError('unsupported', `VirtualBox ${version} is too old; 6.1 or 7.x is needed`);
}

/** Runs VBoxManage and turns its error lines into typed errors (unknown machine → not_found). */
export async function vbox(run: CommandRunner, args: string[], timeoutMs = 120_000, okCodes?: number[]): Promise<CommandResult> {
  try {
    return await run(['VBoxManage', '-q', ...args], { timeoutMs, ...(okCodes ? { okCodes } : {}) });
  } catch (error) {
    if (error instanceof HypervisorError && error.stderr !== undefined) {
      const stderr = error.stderr;
      if (/VBOX_E_OBJECT_NOT_FOUND|Could not find a registered machine|Could not find a snapshot/.test(stderr)) {
        throw new HypervisorError('not_found', firstError(stderr), { stderr, cause: error });
      }
      if (/is not currently running|is already locked|VBOX_E_INVALID_VM_STATE|Invalid machine state/.test(stderr)) {
        throw new HypervisorError('invalid_state', firstError(stderr), { stderr, cause: error });
      }
      throw new HypervisorError(error.code, `VBoxManage ${args[0]}: ${firstError(stderr)}`, { stderr, cause: error });
    }
    throw error;
  }
}

function firstError(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.includes('error:')) ?? stderr.split('\n')[0] ?? '';
  return line.replace(/^VBoxManage: error: /, '').trim();
}
